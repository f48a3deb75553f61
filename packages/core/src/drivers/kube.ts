// The kube driver: one pod per environment in the profile's namespace, running a Docker engine
// (Docker-in-Docker: privileged, listening on the pod's loopback only, so nothing in the cluster
// network reaches it), found by its labels or created with them. The CLI reaches that engine the
// way the ssh driver reaches a host's: a local unix socket whose every connection is one
// port-forward through the API server (docker-socket.ts); files go in with one exec of `tar -x`.
// Over 250 lines on purpose: a pod's whole life (settings, the manifest, create, wait, reach,
// upload, delete) reads in order here; its error mapping has its own room (kube-errors.ts).
import { readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, posix, resolve } from 'node:path';
import { Duplex, PassThrough, Writable } from 'node:stream';
import { CoreV1Api, Exec, KubeConfig, PortForward, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { pack } from 'tar-fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ignoreRules } from '../dockerignore.js';
import { errors, isError } from '../errors.js';
import { toLabelPart } from '../names.js';
import { poll } from '../poll.js';
import type { DockerEndpoint, Driver, Machine, MachineRecord, UploadPlan, UploadResult } from './driver.js';
import { dockerGet, forwardDockerSocket } from './docker-socket.js';
import { kubeError, kubeStatus, type KubeCall } from './kube-errors.js';

export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_ENV = 'prevu.dev/env';
export const LABEL_PROFILE = 'prevu.dev/profile';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The profile's driverOptions for kube (`prevu init --driver kube --set key=value`). */
export const kubeSettingsSchema = z.object({
  /** Default: KUBECONFIG, then ~/.kube/config (as kubectl), then the in-cluster service account. */
  kubeconfig: z.string().min(1).optional(),
  /** Default: the kubeconfig's current context. */
  context: z.string().min(1).optional(),
  /** Default: the context's namespace, then `default`. */
  namespace: z.string().regex(DNS_LABEL, 'a DNS label: a-z, 0-9 and -, at most 63').optional(),
  /** A Pod manifest (YAML or JSON file) to start from: node selectors, resources, tolerations, the image. */
  podTemplate: z.string().min(1).optional(),
  /** The container that runs the engine (in the template; the default pod names it `docker`). */
  container: z.string().regex(DNS_LABEL, 'a DNS label').default('docker'),
  /** The engine image of the default pod. */
  image: z.string().min(1).default('docker:dind'),
  /** The engine's TCP port on the pod's loopback. */
  dockerPort: z.number().int().min(1).max(65535).default(2375),
  /** Where env files go in the engine container (bind-mount sources resolve there). */
  filesDir: z.string().startsWith('/').default('/var/lib/prevu/envs'),
  /** From create to the engine answering (image pull, scheduling, dockerd start). */
  readyTimeoutSeconds: z.number().int().min(5).max(3600).default(300),
});
export type KubeSettingsInput = z.input<typeof kubeSettingsSchema>;
export type KubeSettings = z.output<typeof kubeSettingsSchema>;

export interface KubeDriverOptions {
  /** Profile name, recorded in the `prevu.dev/profile` label. */
  profile: string;
  settings: unknown;
  onProgress?: (message: string) => void;
  /** First poll interval while the pod starts; grows 1.5x per poll up to 5 s. */
  pollMs?: number;
}

function parseKubeSettings(input: unknown): KubeSettings {
  const parsed = kubeSettingsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw errors.kubeSettingInvalid(issue.path.join('.') || 'settings', issue.message);
}

function loadKubeConfig(settings: KubeSettings): KubeConfig {
  const kc = new KubeConfig();
  const source = settings.kubeconfig ?? (process.env.KUBECONFIG || '~/.kube/config');
  try {
    if (settings.kubeconfig) kc.loadFromFile(settings.kubeconfig);
    else kc.loadFromDefault();
  } catch (error) {
    throw errors.kubeConfigUnusable(source, (error as Error).message.split('\n')[0]!);
  }
  if (settings.context) {
    if (!kc.getContextObject(settings.context)) throw errors.kubeContextUnknown(settings.context, kc.getContexts().map((c) => c.name).join(', ') || 'none');
    kc.setCurrentContext(settings.context);
  }
  if (!kc.getCurrentCluster()) throw errors.kubeConfigUnusable(source, 'no current context with a cluster');
  // With no kubeconfig anywhere and outside a cluster, the client falls back to kubectl's old
  // insecure default: say so now rather than fail at the first call.
  if (!settings.kubeconfig && !process.env.KUBECONFIG && kc.getCurrentCluster()!.server === 'http://localhost:8080') throw errors.kubeConfigUnusable(source, 'no such file, and not running in a cluster');
  return kc;
}

/** The Pod manifest of the template file, with the engine container in it. */
function readPodTemplate(path: string, container: string): V1Pod {
  let pod: unknown;
  try {
    pod = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw errors.kubePodTemplateInvalid(path, (error as Error).message.split('\n')[0]!);
  }
  const shape = z.object({ spec: z.object({ containers: z.array(z.object({ name: z.string() }).loose()).min(1) }).loose() }).loose().safeParse(pod);
  if (!shape.success) throw errors.kubePodTemplateInvalid(path, 'no spec.containers');
  if (!shape.data.spec.containers.some((c) => c.name === container)) throw errors.kubePodTemplateInvalid(path, `no container named ${container}`);
  return shape.data as V1Pod;
}

/** `prevu-<profile>-<envId>`: deterministic, so two racing `up`s cannot make two pods. */
export function podName(profile: string, envId: string): string {
  return `prevu-${toLabelPart(profile) || 'default'}-${envId}`.slice(0, 253).replace(/-+$/, '');
}

class KubeMachine implements Machine {
  constructor(
    private readonly driver: KubeDriver,
    readonly envId: string,
    readonly pod: string,
  ) {}

  docker(): Promise<DockerEndpoint> {
    return this.driver.dockerEndpoint(this.pod);
  }

  upload(plan: UploadPlan, signal?: AbortSignal): Promise<UploadResult> {
    return this.driver.upload(this.pod, this.envId, plan, signal);
  }
}

export class KubeDriver implements Driver {
  readonly name = 'kube';
  readonly thisEngine = false;
  readonly settings: KubeSettings;
  readonly namespace: string;
  private readonly kc: KubeConfig;
  private readonly api: CoreV1Api;
  private readonly endpoints = new Set<DockerEndpoint>();
  private readonly template?: V1Pod;

  constructor(private readonly options: KubeDriverOptions) {
    this.settings = parseKubeSettings(options.settings);
    this.kc = loadKubeConfig(this.settings);
    this.namespace = this.settings.namespace ?? this.kc.getContextObject(this.kc.getCurrentContext())?.namespace ?? 'default';
    this.api = this.kc.makeApiClient(CoreV1Api);
    if (this.settings.podTemplate) this.template = readPodTemplate(this.settings.podTemplate, this.settings.container);
  }

  async ensureMachine(envId: string, signal?: AbortSignal): Promise<Machine> {
    validEnvId(envId);
    const name = podName(this.options.profile, envId);
    const found = await this.findPod(envId);
    if (found) {
      this.progress(`reusing pod ${this.namespace}/${found.metadata!.name} (${found.status?.phase ?? 'unknown'})`);
    } else {
      this.progress(`creating pod ${this.namespace}/${name}`);
      try {
        await this.call('create', 'pods', () => this.api.createNamespacedPod({ namespace: this.namespace, body: this.manifest(name, envId) }));
      } catch (error) {
        // Made meanwhile by a concurrent `up` of the same env: that pod is the one.
        if (kubeStatus((error as { cause?: unknown }).cause) !== 409) throw error;
      }
    }
    const pod = found?.metadata?.name ?? name;
    const started = Date.now();
    await this.waitRunning(pod, signal);
    await this.waitEngine(pod, this.settings.readyTimeoutSeconds * 1000 - (Date.now() - started), signal);
    return new KubeMachine(this, envId, pod);
  }

  async findMachine(envId: string): Promise<Machine | undefined> {
    validEnvId(envId);
    const pod = await this.findPod(envId);
    if (pod?.status?.phase !== 'Running') return undefined;
    return new KubeMachine(this, envId, pod.metadata!.name!);
  }

  async list(): Promise<MachineRecord[]> {
    const pods = await this.pods(`${LABEL_MANAGED_BY}=prevu,${LABEL_PROFILE}=${this.profileLabel()}`);
    return pods.map((p) => ({
      envId: p.metadata!.labels![LABEL_ENV]!,
      driver: this.name,
      state: (p.metadata?.deletionTimestamp ? 'terminating' : p.status?.phase ?? 'unknown').toLowerCase(),
      host: `${this.namespace}/${p.metadata!.name}`,
      ...(p.metadata?.creationTimestamp ? { createdAt: new Date(p.metadata.creationTimestamp) } : {}),
    }));
  }

  /** Deletes every pod labelled with this profile and env: what `up` made, whatever its name. */
  async remove(envId: string): Promise<boolean> {
    validEnvId(envId);
    const pods = await this.pods(this.selector(envId));
    for (const pod of pods) {
      this.progress(`deleting pod ${this.namespace}/${pod.metadata!.name}`);
      try {
        await this.call('delete', 'pods', () => this.api.deleteNamespacedPod({ namespace: this.namespace, name: pod.metadata!.name! }));
      } catch (error) {
        // Deleted meanwhile (a concurrent `down`): that is the goal.
        if (kubeStatus((error as { cause?: unknown }).cause) !== 404) throw error;
      }
    }
    // the pod's engine held the env's volumes: they went with it
    return pods.length > 0;
  }

  async close(): Promise<void> {
    await Promise.all([...this.endpoints].map((e) => e.close()));
  }

  /** A local unix socket that reaches the pod's engine; closed by the caller or by close(). */
  async dockerEndpoint(pod: string): Promise<DockerEndpoint> {
    const endpoint = await forwardDockerSocket(() => this.openEngine(pod));
    const tracked: DockerEndpoint = {
      env: endpoint.env,
      close: async () => {
        this.endpoints.delete(tracked);
        await endpoint.close();
      },
    };
    this.endpoints.add(tracked);
    return tracked;
  }

  /**
   * The project's files into `<filesDir>/<envId>/files/<local absolute path>` (as the ssh driver
   * lays them out): per path, one tar stream into one exec of `tar -x`. Files are overwritten, never
   * deleted first: a directory a running container bind-mounts must stay the same directory.
   */
  async upload(pod: string, envId: string, plan: UploadPlan, signal?: AbortSignal): Promise<UploadResult> {
    for (const p of plan.paths) if (!isAbsolute(p)) throw errors.uploadPathRelative(p);
    const filesDir = posix.join(this.settings.filesDir, envId, 'files');
    const mapping = new Map(plan.paths.map((p) => [p, posix.join(filesDir, resolve(p))]));
    const roots = Object.entries(plan.ignore ?? {}).map(([root, patterns]) => ({ root: resolve(root), rules: ignoreRules(patterns) }));
    let filesSent = 0;
    // One archive per path, packed from its parent (tar-fs packs nothing outside its root).
    for (const path of plan.paths.map((p) => resolve(p))) {
      const archive = pack(dirname(path), {
        entries: [basename(path)],
        ignore: (name: string) => roots.some(({ root, rules }) => name.startsWith(`${root}/`) && rules.ignores(name.slice(root.length + 1))),
        map: (header) => {
          if (header.type === 'file') filesSent++;
          return header;
        },
      });
      const abort = () => archive.destroy(signal?.reason as Error);
      signal?.addEventListener('abort', abort, { once: true });
      const into = posix.join(filesDir, dirname(path));
      try {
        await this.exec(pod, 'uploading the project files', ['sh', '-c', 'mkdir -p -- "$1" && exec tar -x -o -f - -C "$1"', 'prevu-upload', into], archive);
      } finally {
        signal?.removeEventListener('abort', abort);
        archive.destroy();
      }
    }
    return { mapping, filesSent, filesUnchanged: 0 };
  }

  private manifest(name: string, envId: string): V1Pod {
    const { container, dockerPort, image } = this.settings;
    const base: V1Pod = this.template ?? {
      spec: {
        containers: [
          {
            name: container,
            image,
            // Loopback only: the port-forward reaches it, the cluster network does not.
            args: [`--host=tcp://127.0.0.1:${dockerPort}`, '--host=unix:///var/run/docker.sock', '--tls=false'],
            env: [{ name: 'DOCKER_TLS_CERTDIR', value: '' }],
            securityContext: { privileged: true },
            volumeMounts: [
              { name: 'docker', mountPath: '/var/lib/docker' },
              { name: 'prevu-files', mountPath: this.settings.filesDir },
            ],
          },
        ],
        volumes: [
          { name: 'docker', emptyDir: {} },
          { name: 'prevu-files', emptyDir: {} },
        ],
      },
    };
    return {
      ...base,
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...base.metadata,
        name,
        namespace: this.namespace,
        labels: { ...base.metadata?.labels, [LABEL_MANAGED_BY]: 'prevu', [LABEL_ENV]: envId, [LABEL_PROFILE]: this.profileLabel() },
      },
    };
  }

  private async waitRunning(pod: string, signal?: AbortSignal): Promise<void> {
    let state = 'Pending';
    await poll(
      async (elapsed) => {
        if (elapsed) this.progress(`waiting for pod ${pod}: ${state} (${Math.round(elapsed / 1000)} s)`);
        const p = await this.call('get', 'pods', () => this.api.readNamespacedPod({ namespace: this.namespace, name: pod }));
        const engine = p.status?.containerStatuses?.find((c) => c.name === this.settings.container);
        const waiting = engine?.state?.waiting?.reason;
        state = [p.status?.phase ?? 'Pending', waiting ?? p.status?.conditions?.find((c) => c.status === 'False' && c.reason)?.reason].filter(Boolean).join(', ');
        if (p.metadata?.deletionTimestamp) throw errors.kubePodFailed(pod, 'it is being deleted');
        if (p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded') throw errors.kubePodFailed(pod, `${p.status.phase}${p.status.reason ? `: ${p.status.reason}` : ''}`);
        if (waiting && /^(ErrImagePull|ImagePullBackOff|InvalidImageName|CreateContainerConfigError|CreateContainerError|CrashLoopBackOff)$/.test(waiting)) {
          throw errors.kubePodFailed(pod, `${waiting}${engine?.state?.waiting?.message ? `: ${engine.state.waiting.message}` : ''}`);
        }
        return p.status?.phase === 'Running' && engine?.state?.running ? true : undefined;
      },
      { timeoutMs: this.settings.readyTimeoutSeconds * 1000, intervalMs: this.options.pollMs ?? 1000, growth: 1.5, maxIntervalMs: 5000, ...(signal ? { signal } : {}) },
      (elapsed) => errors.machineNotReady(`pod ${this.namespace}/${pod} is still ${state}`, Math.round(elapsed / 1000), '`kubectl describe pod` tells why; `prevu down` deletes it'),
    );
  }

  /** Until the engine answers through a port-forward: dockerd starts after its container does. */
  private async waitEngine(pod: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    let detail = 'no answer yet';
    await poll(
      async (elapsed) => {
        if (elapsed) this.progress(`waiting for Docker in pod ${pod} (${Math.round(elapsed / 1000)} s)`);
        try {
          const res = await dockerGet(() => this.openEngine(pod), '/_ping');
          if (res.status === 200) return true;
          detail = `answered ${res.status}`;
        } catch (error) {
          // Missing permissions are not waited out.
          if (isError(error, errors.kubeForbidden, errors.kubeUnauthorized)) throw error;
          detail = (error as Error).message.split('\n')[0]!;
        }
        return undefined;
      },
      { timeoutMs: Math.max(timeoutMs, 5000), intervalMs: this.options.pollMs ?? 1000, growth: 1.5, maxIntervalMs: 5000, ...(signal ? { signal } : {}) },
      (elapsed) => errors.machineNotReady(`Docker in pod ${this.namespace}/${pod} does not answer on port ${this.settings.dockerPort} (${detail})`, Math.round(elapsed / 1000), 'the engine container must run dockerd with --host=tcp://127.0.0.1:<dockerPort> (`kubectl logs` shows why it does not); `prevu down` deletes the pod'),
    );
  }

  /** One connection to the engine: a port-forward WebSocket whose data channel is the stream. */
  private async openEngine(pod: string): Promise<Duplex> {
    const toPod = new PassThrough();
    const fromPod = new PassThrough();
    // The client's end of writing is not passed on: v4 port-forward cannot half-close, and the
    // client library would close the whole WebSocket, cutting output still to come (`docker run`
    // half-closes its attach stream as soon as it has no stdin to send).
    const writable = new Writable({ write: (chunk: Buffer, _encoding, done) => (toPod.write(chunk), done()) });
    const stream = Duplex.from({ readable: fromPod, writable });
    // The error channel: the kubelet could not connect to the port in the pod.
    const errorChannel = new Writable({
      write(chunk: Buffer, _encoding, done) {
        // The client passes on the channel's first frame with its port prefix cut: empty.
        if (chunk.length) stream.destroy(new Error(chunk.toString().trim()));
        done();
      },
    });
    // Without a retry count the client gives the WebSocket itself.
    const ws = (await this.socketCall('pods/portforward', () => new PortForward(this.kc).portForward(this.namespace, pod, [this.settings.dockerPort], fromPod, errorChannel, toPod))) as Awaited<ReturnType<Exec['exec']>>;
    ws.on('close', () => fromPod.end());
    stream.once('close', () => {
      toPod.end();
      ws.close();
    });
    return stream;
  }

  /** Runs a command in the engine container with `input` as its stdin; fails on a non-zero exit. */
  private async exec(pod: string, what: string, command: string[], input: unknown): Promise<void> {
    let stderr = '';
    const errorOutput = new Writable({
      write(chunk: Buffer, _encoding, done) {
        if (stderr.length < 4096) stderr += chunk.toString();
        done();
      },
    });
    let settle!: (status: V1Status | undefined) => void;
    const finished = new Promise<V1Status | undefined>((resolve) => (settle = resolve));
    const ws = await this.socketCall('pods/exec', () => new Exec(this.kc).exec(this.namespace, pod, this.settings.container, command, new PassThrough().resume(), errorOutput, input as never, false, (status) => settle(status)));
    ws.on('close', () => settle(undefined));
    const status = await finished;
    if (status?.status === 'Success') return;
    // Before v5 an exec's stdin cannot end without closing the WebSocket: the client library
    // closes it at the archive's end, before tar has finished or its status could come back.
    const noClose = !status && ws.protocol !== 'v5.channel.k8s.io' && `the API server speaks ${ws.protocol || 'no protocol'} for exec, which cannot end stdin; Kubernetes 1.30 or later speaks v5.channel.k8s.io`;
    const reason = noClose || stderr.trim().split('\n').at(-1) || status?.message || 'the connection closed without an exit status';
    throw errors.kubeExecFailed(what, pod, reason);
  }

  /** The profile's pods of one env (normally one). */
  private async findPod(envId: string): Promise<V1Pod | undefined> {
    const pods = await this.pods(this.selector(envId));
    return pods.find((p) => !p.metadata?.deletionTimestamp) ?? pods[0];
  }

  private async pods(labelSelector: string): Promise<V1Pod[]> {
    const list = await this.call('list', 'pods', () => this.api.listNamespacedPod({ namespace: this.namespace, labelSelector }));
    return list.items.filter((p) => p.metadata?.labels?.[LABEL_ENV]);
  }

  private selector(envId: string): string {
    return `${LABEL_MANAGED_BY}=prevu,${LABEL_PROFILE}=${this.profileLabel()},${LABEL_ENV}=${envId}`;
  }

  private profileLabel(): string {
    return (toLabelPart(this.options.profile) || 'default').slice(0, 63).replace(/-+$/, '');
  }

  private callContext(verb: string, resource: string): KubeCall {
    return { verb, resource, namespace: this.namespace, server: this.kc.getCurrentCluster()!.server };
  }

  /** A REST call; any failure becomes the one-line PrevuError that names the verb and resource. */
  private async call<T>(verb: string, resource: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw kubeError(error, this.callContext(verb, resource));
    }
  }

  /** A WebSocket upgrade (exec, port-forward): RBAC wants `create` on the subresource. */
  private socketCall<T>(resource: string, open: () => Promise<T>): Promise<T> {
    return this.call('create', resource, open);
  }

  private progress(message: string): void {
    this.options.onProgress?.(message);
  }
}

const validEnvId = (envId: string) => {
  // The env id becomes a label value and a path in the pod: nothing but [a-z0-9-], at most 63.
  if (!envId || toLabelPart(envId) !== envId || envId.length > 63) throw errors.envIdNotNormalized(envId);
  return envId;
};
