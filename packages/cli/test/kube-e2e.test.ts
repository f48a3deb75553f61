// `prevu up --driver kube` end to end: the real CLI and its real @kubernetes/client-node against
// the test kit's Kubernetes API stand-in (HTTPS, a kubeconfig naming its CA and token), whose pod
// "engine" is the test kit's machine: a second Docker engine, reached only through the stand-in's
// WebSocket port-forwards, its files sent through the stand-in's exec of tar. A tunnel server
// process answers the URLs, reached by the CLI on loopback and by the agent in the "pod" as
// host.docker.internal.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeProjectResources, httpGet, runId, startKubeStandIn, startMachine, startTunnelServer, useKit, type KubeStandIn, type Machine } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliHome, errorLines, HELLO, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;
let machine: Machine;
let standIn: KubeStandIn;
let hello: string;
let filesDir: string;
const envId = `hello-kube-${runId}`;
const project = `prevu-${envId}`;

// A build and a deploy take ~45 s on an idle 2-core machine; other suites may share it.
const LOADED = 300_000;
const urlsOf = (table: string) => [...table.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]).sort();
const containersOf = async (p: string) => (await machine.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${p}`])).trim().split('\n').filter(Boolean);

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'prevu-kube-e2e-'));
  kit.defer(`dir ${work}`, () => rmSync(work, { recursive: true, force: true }));
  filesDir = join(work, 'pod-files');
  mkdirSync(filesDir);
  hello = join(work, 'hello');
  cpSync(HELLO, hello, { recursive: true });
  // The example's healthcheck (node started every 2 s, 10 s to answer, 15 tries) fails on a 2-core
  // machine shared with other suites; the copy's is patient, so only a broken api fails it.
  const compose = join(hello, 'compose.yaml');
  const patient = readFileSync(compose, 'utf8').replace('timeout: 10s', 'timeout: 20s').replace('retries: 15', 'retries: 60');
  expect(patient).toMatch(/timeout: 20s[\s\S]*retries: 60/);
  writeFileSync(compose, patient);
  machine = await startMachine(kit);
  standIn = await startKubeStandIn(kit, { engineSocket: machine.dockerHost.slice('unix://'.length), namespaces: ['default', 'previews'] });
  const kubeconfig = standIn.writeKubeconfig(join(work, 'kubeconfig'), { context: 'ci' });
  const server = await startTunnelServer(kit, { listen: '0.0.0.0' });
  cli = cliHome(kit);
  const init = await cli.run([
    'init', '--name', 'cluster', '--driver', 'kube',
    '--set', `kubeconfig=${kubeconfig}`, '--set', 'context=ci', '--set', 'namespace=previews', '--set', `filesDir=${filesDir}`,
    '--tunnel-server', `127.0.0.1:${server.ports.ssh}`, '--agent-tunnel-server', `host.docker.internal:${server.ports.ssh}`,
  ]);
  expect(init.code, init.stderr).toBe(0);
  // Whatever a failed test left: containers of the env go with compose.
  kit.defer(`compose down ${project}`, () => machine.docker(['compose', '-p', project, 'down', '--volumes', '--remove-orphans', '--timeout', '1'], { cwd: tmpdir() }));
});

describe('prevu up --driver kube against the stand-in', () => {
  let urls: string[];

  it('up: a labelled pod is made, the project is built and run by its engine through port-forwards; every URL answers 200', async () => {
    const up = await cli.run(['up', '--id', envId], { cwd: hello });
    expect(up.code, up.stderr).toBe(0);
    expect(standIn.pods()).toEqual([expect.objectContaining({ namespace: 'previews', name: `prevu-cluster-${envId}`, phase: 'Running', labels: { 'app.kubernetes.io/managed-by': 'prevu', 'prevu.dev/env': envId, 'prevu.dev/profile': 'cluster' } })]);
    urls = urlsOf(up.stdout.trim().split('\n').slice(-3).join('\n'));
    expect(urls).toHaveLength(2);
    for (const url of urls) expect((await httpGet(url)).status, url).toBe(200);
    // Built by the pod's engine; the host engine has nothing of the env. Files went through exec.
    expect((await machine.contents()).images).toEqual(expect.arrayContaining([`${project}-api:latest`, expect.stringMatching(/^prevu-compose-tunnel-agent:/)]));
    expect(await composeProjectResources(project)).toEqual([]);
    expect(standIn.calls.filter((c) => c.resource === 'pods/exec').every((c) => c.status === 200)).toBe(true);
    expect(standIn.calls.some((c) => c.resource === 'pods/exec')).toBe(true);
  }, LOADED);

  it('ls lists the pod; down removes the containers and deletes the pod by its labels', async () => {
    const ls = await cli.run(['ls', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    const envs = (JSON.parse(ls.stdout) as { envs: { envId: string; machine?: { state: string; host?: string } }[] }).envs;
    expect(envs.map((e) => e.envId)).toEqual([envId]);
    expect(envs[0]!.machine).toMatchObject({ state: 'running', host: `previews/prevu-cluster-${envId}` });
    const down = await cli.run(['down', '--id', envId], { cwd: hello });
    expect(down.code, down.stderr).toBe(0);
    expect(standIn.pods()).toEqual([]);
    expect(standIn.calls.at(-1)).toMatchObject({ verb: 'delete', resource: 'pods', namespace: 'previews', status: 200 });
    expect(await containersOf(project)).toEqual([]);
    const left = await machine.contents();
    expect([left.containers, left.networks, left.volumes]).toEqual([[], [], []]);
  }, LOADED);

  it('a missing RBAC verb reaches the user as one line naming it (exit 1)', async () => {
    standIn.forbid('create', 'pods');
    const up = await cli.run(['up', '--id', `${envId}-denied`], { cwd: hello });
    standIn.allow('create', 'pods');
    expect(up.code).toBe(1);
    expect(errorLines(up.stderr)).toEqual([expect.stringMatching(/Kubernetes denied "create" on pods in the namespace previews: grant the kubeconfig's user the verb create on pods there/)]);
    const down = await cli.run(['down', '--id', `${envId}-denied`], { cwd: hello });
    expect(down.code, down.stderr).toBe(0);
    expect(standIn.pods()).toEqual([]);
  }, LOADED);
});
