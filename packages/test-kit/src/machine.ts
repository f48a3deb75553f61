// A test "remote machine" with its own Docker engine: a second dockerd on this host, with its own
// socket, data root, exec root (and so its own containerd) and pid file, in its own network and
// mount namespaces, where /var/run/docker.sock is that engine's socket, plus an sshd whose
// sessions see it there too. Images built for an env there do not exist on the host engine, and
// the host engine's containers are not there: what the ssh and Lightsail paths upload, build and
// remove can be checked on each side.
//
// Why its own network namespace: with `--bridge none` a dockerd deletes the host's `docker0`
// (it takes it for its own stale bridge), and with br_netfilter loaded the host engine's FORWARD
// policy DROP would stop traffic between the containers of a compose network. In the namespace
// neither happens; a veth pair (a /30 per pid in 198.18.0.0/15, the range RFC 2544 sets aside for
// tests) joins it to this host, whose end is `--host-gateway-ip`: `host.docker.internal` of its
// containers (the agent's overlay uses it) is this host, masqueraded so the host answers without
// a route back.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Kit } from './kit.js';
import { startSshd, type Sshd, type SshdOptions } from './sshd.js';

const run = promisify(execFile);

export interface MachineContents {
  containers: string[];
  /** Without the engine's own bridge, host and none. */
  networks: string[];
  volumes: string[];
  /** repository:tag of each image (`<none>:<none>` for untagged ones). */
  images: string[];
}

export interface Machine {
  /** `unix://...` of the machine's engine. */
  dockerHost: string;
  /** The machine's SSH server, whose sessions reach the machine's engine. */
  sshd: Sshd;
  /** The docker CLI against the machine's engine. */
  docker(args: string[], options?: { cwd?: string }): Promise<string>;
  contents(): Promise<MachineContents>;
}

export interface MachineOptions {
  /** Images of the host engine copied in (`docker save | docker load`); default busybox:latest and node:20-slim. */
  images?: string[];
  sshd?: Omit<SshdOptions, 'dockerSocket'>;
}

// Runs in the new namespaces as root: $1 is a pid in this host's network namespace, the rest is
// dockerd's command line. The pid's /30 and veth name are unique while it runs.
const NAMESPACE_SETUP = `set -eu
outer=/proc/$1/ns/net; shift
n=$(( $$ % 32768 * 4 ))
prefix=198.$(( 18 + n / 65536 )).$(( n / 256 % 256 ))
host=$prefix.$(( n % 256 + 1 )); machine=$prefix.$(( n % 256 + 2 )); link=prevu-m$$
if [ -n "$(nsenter --net="$outer" ip -4 -o addr show to "$host")" ]; then echo "prevu-machine: $host is taken on this host" >&2; exit 1; fi
ip link set lo up
ip link add eth0 type veth peer name "$link" netns "$outer"
nsenter --net="$outer" sh -c 'ip addr add "$1/30" dev "$2" && ip link set "$2" up' sh "$host" "$link"
ip addr add "$machine/30" dev eth0
ip link set eth0 up
ip route add default via "$host"
echo 1 > /proc/sys/net/ipv4/ip_forward
iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
# dockerd would use a system containerd whose socket it finds here: hidden, so it starts its own
# (a child carrying the run's environment), and the shims' sockets stay in this namespace too.
mkdir -p /run/containerd
mount -t tmpfs prevu-machine /run/containerd
exec dockerd --host-gateway-ip "$host" "$@"
`;

export async function startMachine(kit: Kit, options: MachineOptions = {}): Promise<Machine> {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-machine-'));
  kit.defer(`machine dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'docker.sock');
  const dockerHost = `unix://${socket}`;
  // Its own (empty) daemon.json: nothing of the host's /etc/docker/daemon.json (hosts, data-root) applies.
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  const dockerd = await kit.start({
    command: 'unshare',
    args: [
      '--net', '--mount', '--propagation', 'private', 'sh', '-c', NAMESPACE_SETUP, 'prevu-machine', String(process.pid),
      '--host', dockerHost,
      '--config-file', join(dir, 'daemon.json'),
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'docker.pid'),
      '--bridge', 'none',
      '--iptables=false',
      // Within the kit's stop (SIGTERM, SIGKILL 5 s later), a container a test left is stopped.
      '--shutdown-timeout', '2',
    ],
    readyLine: /API listen on/,
  });
  // Containers that mount /var/run/docker.sock (the agent) get this engine's socket, as on a real
  // machine: dockerd resolves bind sources in its own mount namespace.
  await run('nsenter', [`--mount=/proc/${dockerd.pid}/ns/mnt`, 'mount', '--bind', socket, '/var/run/docker.sock']);
  const docker = async (args: string[], opts: { cwd?: string } = {}) => (await run('docker', args, { ...opts, env: { ...process.env, DOCKER_HOST: dockerHost }, maxBuffer: 64 * 1024 * 1024 })).stdout;
  const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);
  const contents = async (): Promise<MachineContents> => ({
    containers: lines(await docker(['ps', '-a', '--format', '{{.Names}}'])),
    networks: lines(await docker(['network', 'ls', '--format', '{{.Name}}'])).filter((n) => !['bridge', 'host', 'none'].includes(n)),
    volumes: lines(await docker(['volume', 'ls', '-q'])),
    images: lines(await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])),
  });
  const images = options.images ?? ['busybox:latest', 'node:20-slim'];
  await run('bash', ['-o', 'pipefail', '-c', 'docker save "${@:2}" | docker -H "$1" load -q', 'load', dockerHost, ...images]);
  // Runs before dockerd stops (cleanup is last-in first-out): what a test left on the machine fails
  // the file, and is removed first (a running container's shim would outlive a dockerd that is
  // killed before it has stopped it).
  kit.defer('nothing left on the machine', async () => {
    const left = await contents();
    const named = [...left.containers.map((c) => `container ${c}`), ...left.networks.map((n) => `network ${n}`), ...left.volumes.map((v) => `volume ${v}`)];
    if (!named.length) return;
    if (left.containers.length) await docker(['rm', '-fv', ...left.containers]);
    throw new Error(`left on the test machine: ${named.join(', ')}`);
  });
  const sshd = await startSshd(kit, { ...options.sshd, dockerSocket: socket });
  return { dockerHost, sshd, docker, contents };
}
