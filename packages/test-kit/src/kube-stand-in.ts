// A local stand-in for the Kubernetes API server, for tests that drive the real
// @kubernetes/client-node against it through a kubeconfig it writes (HTTPS with its own
// self-signed certificate, which the kubeconfig names as the cluster's CA). It speaks the calls the kube
// driver makes: pods create/get/list (equality label selectors)/delete in namespaces that exist,
// answered as JSON with the API's Status objects on errors (401 without the bearer token, 403 for
// a verb/resource the test forbids, 404, 409, 422); and the WebSocket subresources as the
// kubelet serves them: port-forward (`v4.channel.k8s.io`: channel 0 data, 1 errors, each opened
// with the port as 2 little-endian bytes) and exec (`v5.channel.k8s.io` with its stdin close,
// or v4: 0 stdin, 1 stdout, 2 stderr, 3 the exit Status). A pod is Pending for some polls, then
// Running. Its "engine" is the test machine's dockerd: a port-forward to the engine port connects
// to that socket, and exec runs the command on this host, where that dockerd resolves bind-mount
// sources (as the sshd harness does for the ssh driver).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Kit } from './kit.js';

export interface KubeStandInOptions {
  /** The unix socket every pod's engine port leads to (the test machine's docker socket). */
  engineSocket: string;
  /** The engine's port in the pod. Default 2375. */
  dockerPort?: number;
  /** Namespaces that exist. Default ['default']. */
  namespaces?: string[];
  /** Reads of a new pod (get/list) that still see it Pending. Default 2. */
  pendingPolls?: number;
  /** Port-forwards to a new pod's engine refused before it answers (dockerd starts after its container). Default 1. */
  engineStartRefusals?: number;
}

/** The exec protocols the stand-in serves, newest first: a cluster before v5 serves only v4. */
export type ExecProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] | ['v4.channel.k8s.io'];

export interface KubeStandInCall {
  verb: string;
  /** `pods`, `pods/exec`, `pods/portforward`. */
  resource: string;
  namespace: string;
  status: number;
  /** The query of a WebSocket call (exec's command, port-forward's ports). */
  query?: string;
}

export interface StandInPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  spec: { containers: { name: string; securityContext?: { privileged?: boolean }; args?: string[]; image?: string }[] } & Record<string, unknown>;
  phase: 'Pending' | 'Running';
}

export interface KubeStandIn {
  url: string;
  /** The bearer token the stand-in accepts. */
  token: string;
  calls: KubeStandInCall[];
  pods(): StandInPod[];
  /** Makes every later `verb` on `resource` a 403, as a Role without it would. */
  forbid(verb: string, resource: string): void;
  allow(verb: string, resource: string): void;
  /** Which exec protocols it serves from now on (default both, v5 first). */
  setExecProtocols(protocols: ExecProtocols): void;
  /** Writes a kubeconfig for the stand-in (`token` overrides the accepted one) and returns its path. */
  writeKubeconfig(path: string, options?: { context?: string; namespace?: string; token?: string }): string;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

interface Record_ extends StandInPod {
  uid: string;
  createdAt: string;
  pendingReads: number;
  engineRefusals: number;
}

export async function startKubeStandIn(kit: Kit, options: KubeStandInOptions): Promise<KubeStandIn> {
  const dockerPort = options.dockerPort ?? 2375;
  const namespaces = new Set(options.namespaces ?? ['default']);
  const token = randomBytes(16).toString('hex');
  const calls: KubeStandInCall[] = [];
  const forbidden = new Set<string>();
  let execProtocols: ExecProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
  const pods = new Map<string, Record_>();
  const children = new Set<ReturnType<typeof spawn>>();
  const key = (ns: string, name: string) => `${ns}/${name}`;

  const status = (code: number, reason: string, message: string, details?: Record<string, unknown>) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });
  const asPod = (p: Record_) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, uid: p.uid, labels: p.labels, creationTimestamp: p.createdAt },
    spec: p.spec,
    status: {
      phase: p.phase,
      containerStatuses: p.spec.containers.map((c) => ({
        name: c.name,
        image: c.image ?? '',
        imageID: '',
        restartCount: 0,
        ready: p.phase === 'Running',
        state: p.phase === 'Running' ? { running: { startedAt: p.createdAt } } : { waiting: { reason: 'ContainerCreating' } },
      })),
    },
  });
  const read = (p: Record_) => {
    if (p.phase === 'Pending' && p.pendingReads-- <= 0) p.phase = 'Running';
    return asPod(p);
  };
  // What a forbidden call looks like (the RBAC authorizer's wording).
  const denied = (verb: string, resource: string, namespace: string) => {
    const [res, sub] = resource.split('/');
    return status(403, 'Forbidden', `${resource} is forbidden: User "prevu-test" cannot ${verb} resource "${res}"${sub ? ` with subresource "${sub}"` : ''} in API group "" in the namespace "${namespace}"`, { kind: res });
  };

  /** Authentication and authorization; records the call. Undefined when it may go on. */
  const check = (req: IncomingMessage, verb: string, resource: string, namespace: string, query?: string): { code: number; body: object } | undefined => {
    const record = (code: number) => calls.push({ verb, resource, namespace, status: code, ...(query ? { query } : {}) });
    if (req.headers.authorization !== `Bearer ${token}`) {
      record(401);
      return { code: 401, body: status(401, 'Unauthorized', 'Unauthorized') };
    }
    if (forbidden.has(`${verb} ${resource}`)) {
      record(403);
      return { code: 403, body: denied(verb, resource, namespace) };
    }
    record(200);
    return undefined;
  };
  const answer = (res: ServerResponse, code: number, body: object) => {
    const last = calls.at(-1);
    if (last && last.status === 200) last.status = code;
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  // The API server's certificate, for 127.0.0.1 (an IP SAN: what the client checks).
  const certDir = mkdtempSync(join(tmpdir(), 'prevu-kube-stand-in-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=kube-stand-in', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' });
  const cert = readFileSync(join(certDir, 'cert.pem'));
  const tlsKey = readFileSync(join(certDir, 'key.pem'));
  rmSync(certDir, { recursive: true, force: true });

  const server = createServer({ cert, key: tlsKey }, (req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/.exec(url.pathname);
      if (!match) return void answer(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      const [, namespace, name] = match as unknown as [string, string, string | undefined];
      const verb = req.method === 'POST' ? 'create' : req.method === 'DELETE' ? 'delete' : name ? 'get' : 'list';
      const refused = check(req, verb, 'pods', namespace);
      if (refused) return void answer(res, refused.code, refused.body);
      if (verb === 'list') {
        const selector = url.searchParams.get('labelSelector') ?? '';
        const terms = selector.split(',').filter(Boolean).map((t) => /^([^=!]+)==?([^=]*)$/.exec(t));
        if (terms.some((t) => !t)) return void answer(res, 400, status(400, 'BadRequest', `unable to parse requirement: ${selector}`));
        const items = [...pods.values()].filter((p) => p.namespace === namespace && terms.every((t) => p.labels[t![1]!] === t![2]));
        return void answer(res, 200, { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '1' }, items: items.map(read) });
      }
      if (verb === 'create') {
        // Reads in a namespace that does not exist find nothing; a create is refused.
        if (!namespaces.has(namespace)) return void answer(res, 404, status(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' }));
        const pod = JSON.parse(text || '{}') as { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> }; spec?: StandInPod['spec'] };
        const podName = pod.metadata?.name ?? '';
        const labels = pod.metadata?.labels ?? {};
        const invalid = [
          !DNS_SUBDOMAIN.test(podName) && `metadata.name: Invalid value: "${podName}"`,
          pod.metadata?.namespace && pod.metadata.namespace !== namespace && 'metadata.namespace: Invalid value: does not match the namespace of the request',
          ...Object.entries(labels).map(([k, v]) => !LABEL_VALUE.test(v) && `metadata.labels: Invalid value: "${v}" (${k})`),
          !pod.spec?.containers?.length && 'spec.containers: Required value',
        ].filter(Boolean);
        if (invalid.length) return void answer(res, 422, status(422, 'Invalid', `Pod "${podName}" is invalid: ${invalid.join(', ')}`));
        if (pods.has(key(namespace, podName))) return void answer(res, 409, status(409, 'AlreadyExists', `pods "${podName}" already exists`));
        const made: Record_ = {
          namespace,
          name: podName,
          labels,
          spec: pod.spec!,
          phase: 'Pending',
          uid: randomBytes(8).toString('hex'),
          createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          pendingReads: options.pendingPolls ?? 2,
          engineRefusals: options.engineStartRefusals ?? 1,
        };
        pods.set(key(namespace, podName), made);
        return void answer(res, 201, asPod(made));
      }
      const found = pods.get(key(namespace, name!));
      if (!found) return void answer(res, 404, status(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' }));
      if (verb === 'delete') {
        pods.delete(key(namespace, name!));
        return void answer(res, 200, asPod(found));
      }
      return void answer(res, 200, read(found));
    });
  });

  const wss = new WebSocketServer({
    noServer: true,
    // The kubelet's choice: port-forward speaks v4 only, exec the newest it knows.
    handleProtocols: (offered, req) => {
      const wanted: string[] = req.url?.includes('/portforward') ? ['v4.channel.k8s.io'] : execProtocols;
      return wanted.find((p) => offered.has(p)) ?? false;
    },
  });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const refuse = (code: number, body: object) => {
      const last = calls.at(-1);
      if (last && last.status === 200) last.status = code;
      socket.end(`HTTP/1.1 ${code} ${code === 403 ? 'Forbidden' : code === 401 ? 'Unauthorized' : 'Error'}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify(body)}`);
    };
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|portforward)$/.exec(url.pathname);
    if (!match) return refuse(404, status(404, 'NotFound', 'not found'));
    const [, namespace, name, sub] = match as unknown as [string, string, string, 'exec' | 'portforward'];
    // As clusters that check the upgrade as a create (AuthorizePodWebsocketUpgradeCreatePermission).
    const refused = check(req, 'create', `pods/${sub}`, namespace, url.search);
    if (refused) return refuse(refused.code, refused.body);
    const pod = pods.get(key(namespace, name));
    if (!pod) return refuse(404, status(404, 'NotFound', `pods "${name}" not found`));
    if (pod.phase !== 'Running') return refuse(400, status(400, 'BadRequest', `pod ${name} is not running`));
    if (sub === 'exec') {
      const container = url.searchParams.get('container') ?? '';
      if (!pod.spec.containers.some((c) => c.name === container)) return refuse(400, status(400, 'BadRequest', `container ${container} is not valid for pod ${name}`));
    }
    wss.handleUpgrade(req, socket, head, (ws) => (sub === 'exec' ? execIn(ws, url.searchParams.getAll('command')) : forward(ws, pod, Number(url.searchParams.get('ports')))));
  });

  const frame = (channel: number, data: Buffer | string) => Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);

  function forward(ws: WebSocket, pod: Record_, port: number): void {
    const portBytes = Buffer.from([port & 0xff, port >> 8]);
    ws.send(frame(0, portBytes));
    ws.send(frame(1, portBytes));
    const fail = (message: string) => {
      ws.send(frame(1, `an error occurred forwarding ${port} -> ${port}: error forwarding port ${port} to pod ${pod.uid}: ${message}`));
      ws.close();
    };
    if (port !== dockerPort) return fail(`dial tcp4 127.0.0.1:${port}: connect: connection refused`);
    if (pod.engineRefusals-- > 0) return fail(`dial tcp4 127.0.0.1:${port}: connect: connection refused`);
    const engine = connect(options.engineSocket);
    engine.on('data', (data: Buffer) => ws.send(frame(0, data)));
    engine.on('error', (error) => fail(error.message));
    engine.on('close', () => ws.close());
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0) engine.write(data.subarray(1));
    });
    ws.on('close', () => engine.end());
  }

  function execIn(ws: WebSocket, command: string[]): void {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    child.stdout.on('data', (data: Buffer) => ws.send(frame(1, data)));
    child.stderr.on('data', (data: Buffer) => ws.send(frame(2, data)));
    child.stdin.on('error', () => undefined);
    const done = (result: object) => {
      children.delete(child);
      if (ws.readyState === ws.OPEN) ws.send(frame(3, JSON.stringify(result)), () => ws.close());
    };
    child.on('error', (error) => done(status(500, 'InternalError', `exec: ${error.message}`)));
    child.on('close', (code) =>
      done(code === 0 ? { metadata: {}, status: 'Success' } : { ...status(500, 'NonZeroExitCode', `command terminated with non-zero exit code: exit status ${code}`, { causes: [{ reason: 'ExitCode', message: String(code) }] }) }),
    );
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0) child.stdin.write(data.subarray(1));
      // v5: "close stream 0" is stdin's end of file.
      else if (data[0] === 255 && data[1] === 0) child.stdin.end();
    });
    ws.on('close', () => {
      if (children.has(child)) child.kill('SIGKILL');
    });
  }

  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  kit.defer('kube stand-in', async () => {
    for (const child of children) child.kill('SIGKILL');
    for (const client of wss.clients) client.terminate();
    server.closeAllConnections();
    await new Promise((closed) => server.close(closed));
  });
  return {
    url,
    token,
    calls,
    pods: () => [...pods.values()].map(({ namespace, name, labels, spec, phase }) => ({ namespace, name, labels, spec, phase })),
    setExecProtocols: (protocols) => void (execProtocols = protocols),
    forbid: (verb, resource) => void forbidden.add(`${verb} ${resource}`),
    allow: (verb, resource) => void forbidden.delete(`${verb} ${resource}`),
    writeKubeconfig(path, config = {}) {
      const context = config.context ?? 'stand-in';
      const kubeconfig = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'stand-in', cluster: { server: url, 'certificate-authority-data': cert.toString('base64') } }],
        users: [{ name: 'prevu-test', user: { token: config.token ?? token } }],
        contexts: [{ name: context, context: { cluster: 'stand-in', user: 'prevu-test', ...(config.namespace ? { namespace: config.namespace } : {}) } }],
        'current-context': context,
      };
      // A kubeconfig (YAML) may be JSON, as kubectl's own loader accepts.
      writeFileSync(path, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
      return path;
    },
  };
}
