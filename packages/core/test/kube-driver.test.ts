// The kube driver against the test kit's Kubernetes stand-in, through the real
// @kubernetes/client-node: the pod it makes (labels, privileged engine on loopback), the engine
// reached only through port-forward WebSockets (the stand-in's pods lead to the test machine's
// dockerd), files sent through an exec of tar, reuse, list, delete by labels, and the one-line
// errors: a missing RBAC verb named, refused credentials, a missing namespace, an unknown context.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runId, startKubeStandIn, startMachine, useKit, type KubeStandIn, type Machine } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { KubeDriver, LABEL_ENV, LABEL_MANAGED_BY, LABEL_PROFILE, podName } from '../src/drivers/kube.js';
import { isPrevuError, type PrevuError } from '../src/errors.js';

const run = promisify(execFile);
const kit = useKit();
let machine: Machine;
let standIn: KubeStandIn;
let work: string;
let kubeconfig: string;
let filesDir: string;
const envId = `kube-${runId}`.slice(0, 40);
const profile = 'team';

const driverFor = (settings: Record<string, unknown> = {}) => {
  const driver = new KubeDriver({ profile, settings: { kubeconfig, filesDir, ...settings }, pollMs: 100 });
  kit.defer('kube driver', () => driver.close());
  return driver;
};
const failure = async (promise: Promise<unknown>): Promise<PrevuError> => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!isPrevuError(error)) throw new Error(`expected a PrevuError, got ${String(error)}`);
  return error;
};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'prevu-kube-driver-'));
  kit.defer(`dir ${work}`, () => rmSync(work, { recursive: true, force: true }));
  filesDir = join(work, 'pod-files');
  machine = await startMachine(kit, { images: ['busybox:latest'] });
  standIn = await startKubeStandIn(kit, { engineSocket: machine.dockerHost.slice('unix://'.length), namespaces: ['default', 'previews'], pendingPolls: 2, engineStartRefusals: 2 });
  kubeconfig = standIn.writeKubeconfig(join(work, 'kubeconfig'), { namespace: 'previews' });
});

describe('kube driver against the stand-in', () => {
  it('makes one labelled privileged pod, waits for it and its engine, reaches the engine through port-forwards, uploads with exec', async () => {
    const driver = driverFor();
    expect(driver.namespace).toBe('previews');
    const progress: string[] = [];
    const withProgress = new KubeDriver({ profile, settings: { kubeconfig, filesDir }, pollMs: 100, onProgress: (line) => progress.push(line) });
    kit.defer('kube driver (progress)', () => withProgress.close());
    const machineOfEnv = await withProgress.ensureMachine(envId);
    const name = podName(profile, envId);
    expect(progress[0]).toBe(`creating pod previews/${name}`);
    expect(progress.some((l) => l.startsWith(`waiting for pod ${name}: Pending`))).toBe(true);
    expect(progress.some((l) => l.startsWith(`waiting for Docker in pod ${name}`))).toBe(true);

    const [pod] = standIn.pods();
    expect(standIn.pods()).toHaveLength(1);
    expect(pod).toMatchObject({ namespace: 'previews', name, labels: { [LABEL_MANAGED_BY]: 'prevu', [LABEL_ENV]: envId, [LABEL_PROFILE]: profile } });
    expect(pod!.spec.containers[0]).toMatchObject({ name: 'docker', image: 'docker:dind', securityContext: { privileged: true } });
    expect(pod!.spec.containers[0]!.args).toContain('--host=tcp://127.0.0.1:2375');

    // The engine is the machine's, reached through the local socket the port-forwards serve.
    const endpoint = await machineOfEnv.docker();
    const docker = (args: string[]) => run('docker', args, { env: { ...process.env, ...endpoint.env } }).then((r) => r.stdout.trim());
    expect(await docker(['info', '--format', '{{.DockerRootDir}}'])).toBe((await machine.docker(['info', '--format', '{{.DockerRootDir}}'])).trim());
    expect(await docker(['run', '--rm', 'busybox:latest', 'echo', 'through the port-forward'])).toBe('through the port-forward');
    const forwards = standIn.calls.filter((c) => c.resource === 'pods/portforward');
    expect(forwards.length).toBeGreaterThan(3);
    expect(forwards.every((c) => c.query === '?ports=2375' && c.status === 200)).toBe(true);

    // Files: one exec of tar; a bind source is readable where the engine resolves it.
    const project = join(work, 'project');
    mkdirSync(join(project, 'www', 'skip'), { recursive: true });
    writeFileSync(join(project, 'www', 'index.html'), 'hello from the pod\n');
    writeFileSync(join(project, 'www', 'skip', 'secret.txt'), 'not sent\n');
    const www = join(project, 'www');
    const upload = await machineOfEnv.upload({ paths: [www], ignore: { [www]: ['skip'] } });
    expect(upload.filesSent).toBe(1);
    const remote = upload.mapping.get(www)!;
    expect(remote).toBe(join(filesDir, envId, 'files', www));
    expect(readFileSync(join(remote, 'index.html'), 'utf8')).toBe('hello from the pod\n');
    expect(await docker(['run', '--rm', '-v', `${remote}:/www:ro`, 'busybox:latest', 'cat', '/www/index.html'])).toBe('hello from the pod');
    expect(standIn.calls.filter((c) => c.resource === 'pods/exec').map((c) => c.status)).toEqual([200]);
    // An API server without v5 cannot end an exec's stdin: said in one line, not a hang.
    standIn.setExecProtocols(['v4.channel.k8s.io']);
    const old = await failure(machineOfEnv.upload({ paths: [www] }));
    standIn.setExecProtocols(['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    expect(old.line).toMatch(/^uploading the project files in the pod prevu-team-\S+ failed \(the API server speaks v4\.channel\.k8s\.io for exec, which cannot end stdin; Kubernetes 1\.30 or later speaks v5\.channel\.k8s\.io\): /);
    await endpoint.close();

    // A second ensureMachine finds the pod by its labels: nothing created.
    const creates = standIn.calls.filter((c) => c.verb === 'create' && c.resource === 'pods').length;
    await driver.ensureMachine(envId);
    expect(standIn.calls.filter((c) => c.verb === 'create' && c.resource === 'pods')).toHaveLength(creates);
    expect(await driver.list()).toEqual([{ envId, driver: 'kube', state: 'running', host: `previews/${name}`, createdAt: expect.any(Date) }]);
    // Another profile's driver sees none of it.
    const other = new KubeDriver({ profile: 'other', settings: { kubeconfig, filesDir } });
    expect(await other.list()).toEqual([]);
    expect(await other.findMachine(envId)).toBeUndefined();

    await driver.remove(envId);
    expect(standIn.pods()).toEqual([]);
    expect(standIn.calls.at(-1)).toMatchObject({ verb: 'delete', resource: 'pods', namespace: 'previews', status: 200 });
    expect(await driver.findMachine(envId)).toBeUndefined();
    await driver.remove(envId);
  });

  it('names the missing RBAC verb and resource in one line, for REST calls and WebSocket upgrades', async () => {
    const driver = driverFor();
    const id = `${envId}-rbac`;
    kit.defer('rbac env', () => driverFor().remove(id));
    standIn.forbid('create', 'pods');
    let error = await failure(driver.ensureMachine(id));
    standIn.allow('create', 'pods');
    expect(error.code).toBe('PREVU_KUBE_FORBIDDEN');
    expect(error.line).toBe('Kubernetes denied "create" on pods in the namespace previews: grant the kubeconfig\'s user the verb create on pods there (a Role with every verb the kube driver needs is in site/docs/drivers.md)');

    standIn.forbid('create', 'pods/portforward');
    error = await failure(driver.ensureMachine(id));
    standIn.allow('create', 'pods/portforward');
    expect(error.message).toBe('Kubernetes denied "create" on pods/portforward in the namespace previews');

    const made = await driver.ensureMachine(id);
    standIn.forbid('create', 'pods/exec');
    error = await failure(made.upload({ paths: [work] }));
    standIn.allow('create', 'pods/exec');
    expect(error.message).toBe('Kubernetes denied "create" on pods/exec in the namespace previews');

    standIn.forbid('list', 'pods');
    error = await failure(driver.list());
    standIn.allow('list', 'pods');
    expect(error.message).toBe('Kubernetes denied "list" on pods in the namespace previews');
    standIn.forbid('delete', 'pods');
    error = await failure(driver.remove(id));
    standIn.allow('delete', 'pods');
    expect(error.message).toBe('Kubernetes denied "delete" on pods in the namespace previews');
    expect(error.line.split('\n')).toHaveLength(1);
  });

  it('refused credentials, a missing namespace, an unknown context, bad settings and templates: one line each', async () => {
    const badToken = standIn.writeKubeconfig(join(work, 'bad-token'), { token: 'wrong' });
    expect((await failure(new KubeDriver({ profile, settings: { kubeconfig: badToken } }).list())).line).toMatch(/^the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ refused the kubeconfig's credentials \(401\): /);
    expect((await failure(driverFor({ namespace: 'nowhere' }).ensureMachine(`${envId}-ns`))).message).toBe('the namespace nowhere does not exist');
    expect(() => driverFor({ context: 'prod' })).toThrow('the kubeconfig has no context "prod" (it has: stand-in)');
    expect(() => driverFor({ namespace: 'Not_A_Label' })).toThrow(/^invalid kube setting namespace \(a DNS label/);
    expect(() => driverFor({ kubeconfig: join(work, 'missing') })).toThrow(/^the kubeconfig .*missing is unusable/);
    // No kubeconfig anywhere: named at once, not a call to kubectl's old localhost:8080 default.
    const home = process.env.HOME;
    const kubeconfigEnv = process.env.KUBECONFIG;
    process.env.HOME = work;
    delete process.env.KUBECONFIG;
    try {
      expect(() => new KubeDriver({ profile, settings: {} })).toThrow('the kubeconfig ~/.kube/config is unusable (no such file, and not running in a cluster)');
    } finally {
      process.env.HOME = home;
      if (kubeconfigEnv !== undefined) process.env.KUBECONFIG = kubeconfigEnv;
    }
    const template = join(work, 'pod.yaml');
    writeFileSync(template, 'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: engine\n      image: docker:dind\n');
    expect(() => driverFor({ podTemplate: template })).toThrow(`the pod template ${template} is not usable (no container named docker)`);
    // A template's container is used as written, with prevu's labels added.
    writeFileSync(template, 'apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    team: web\nspec:\n  nodeSelector:\n    pool: previews\n  containers:\n    - name: engine\n      image: registry.example/dind:1\n      securityContext:\n        privileged: true\n');
    const id = `${envId}-tpl`;
    const driver = driverFor({ podTemplate: template, container: 'engine' });
    kit.defer('template env', () => driver.remove(id));
    await driver.ensureMachine(id);
    const pod = standIn.pods().find((p) => p.labels[LABEL_ENV] === id)!;
    expect(pod.labels).toMatchObject({ team: 'web', [LABEL_ENV]: id, [LABEL_PROFILE]: profile });
    expect(pod.spec).toMatchObject({ nodeSelector: { pool: 'previews' }, containers: [{ name: 'engine', image: 'registry.example/dind:1' }] });
    await driver.remove(id);
    expect(standIn.pods().filter((p) => p.labels[LABEL_ENV] === id)).toEqual([]);
  });
});
