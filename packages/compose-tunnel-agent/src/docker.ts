// Docker Engine API over the unix socket (node:http): the few calls the agent needs. Read-only use
// except `stop` (the crash-loop guard, expiry and sleep), `start` (a wake), and one fixed `exec` (`cat /proc/net/tcp*`)
// that tells a port nobody listens on from one bound to loopback only.
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';

export const PROJECT_LABEL = 'com.docker.compose.project';
export const SERVICE_LABEL = 'com.docker.compose.service';
/** `<service>:<condition>:<restart>` per dependency, comma-separated (compose writes it). */
export const DEPENDS_ON_LABEL = 'com.docker.compose.depends_on';

export interface ContainerInfo {
  Id: string;
  Name: string;
  /** The image's ID (sha256:...). */
  Image?: string;
  RestartCount: number;
  State: {
    Status: string;
    Running: boolean;
    Restarting?: boolean;
    OOMKilled?: boolean;
    /** Why Docker could not start it (the runtime's refusal); '' when it started. */
    Error?: string;
    ExitCode: number;
    StartedAt: string;
    FinishedAt: string;
    Health?: { Status: 'starting' | 'healthy' | 'unhealthy'; FailingStreak: number; Log?: { ExitCode: number; Output: string }[] };
  };
  HostConfig?: { Memory?: number };
  Config: {
    /** The image as the service names it. */
    Image?: string;
    /** `KEY=value` as the process gets it. */
    Env?: string[] | null;
    Labels: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown> | null;
    Healthcheck?: { Test?: string[] } | null;
  };
}

export interface DockerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  timeNano: number;
}

export class DockerApi {
  // node:http rather than undici: bundled undici alone added 14 MB of RSS to the agent (its
  // fetch and llhttp wasm load eagerly), which broke the 60 MB budget; node:http speaks to a
  // unix socket natively. Calls share a small keep-alive pool; the events stream takes its own.
  private readonly agent: Agent;

  constructor(private readonly socketPath: string) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 4 });
  }

  private request(method: 'GET' | 'POST', path: string, signal?: AbortSignal, agent: Agent | false = this.agent, body?: unknown): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const json = body === undefined ? undefined : JSON.stringify(body);
      const headers = { host: 'docker', ...(json ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)) } : {}) };
      const req = httpRequest({ socketPath: this.socketPath, method, path, agent, headers, ...(signal ? { signal } : {}) }, resolve);
      req.on('error', reject);
      req.setTimeout(signal ? 0 : 60_000, () => req.destroy(new Error(`docker ${method} ${path} timed out`)));
      req.end(json);
    });
  }

  private async call(method: 'GET' | 'POST', path: string, json?: unknown): Promise<Buffer> {
    const res = await this.request(method, path, undefined, this.agent, json);
    const body = await readAll(res);
    const status = res.statusCode ?? 0;
    if (status >= 400) throw new DockerError(status, `${method} ${path}: ${status} ${body.toString('utf8').trim()}`);
    return body;
  }

  private async json<T>(method: 'GET' | 'POST', path: string): Promise<T> {
    const text = (await this.call(method, path)).toString('utf8');
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Every container of a compose project, running or not. */
  async listProject(project: string): Promise<{ Id: string; Labels: Record<string, string> }[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: [`${PROJECT_LABEL}=${project}`] }));
    return this.json('GET', `/containers/json?all=1&filters=${filters}`);
  }

  inspect(id: string): Promise<ContainerInfo> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/json`);
  }

  async stop(id: string, timeoutSeconds = 2): Promise<void> {
    const res = await this.request('POST', `/containers/${encodeURIComponent(id)}/stop?t=${timeoutSeconds}`);
    const body = await readAll(res);
    // 304: already stopped.
    if ((res.statusCode ?? 0) >= 400) throw new DockerError(res.statusCode ?? 0, `stop ${id}: ${res.statusCode} ${body.toString('utf8').trim()}`);
  }

  /** Starts a stopped container (a wake after sleep); 304: already running. */
  async start(id: string): Promise<void> {
    const res = await this.request('POST', `/containers/${encodeURIComponent(id)}/start`);
    const body = await readAll(res);
    if ((res.statusCode ?? 0) >= 400) throw new DockerError(res.statusCode ?? 0, `start ${id}: ${res.statusCode} ${body.toString('utf8').trim()}`);
  }

  /**
   * Runs a fixed command in a running container and returns its stdout (the listen probe reads
   * the container's socket table this way; nothing else is ever run).
   */
  async exec(id: string, cmd: string[]): Promise<string> {
    const created = JSON.parse((await this.call('POST', `/containers/${encodeURIComponent(id)}/exec`, { Cmd: cmd, AttachStdout: true, AttachStderr: false })).toString('utf8')) as { Id: string };
    return demux(await this.call('POST', `/exec/${encodeURIComponent(created.Id)}/start`, { Detach: false, Tty: false }));
  }

  /** The last `tail` lines of stdout+stderr, demultiplexed (non-TTY containers frame each chunk). */
  async logs(id: string, tail: number): Promise<string[]> {
    const raw = await this.call('GET', `/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1&tail=${tail}`);
    return splitLines(demux(raw)).slice(-tail);
  }

  /** Streams new log output (after the last `tail` lines) as text until `signal` aborts or the container goes. */
  async followLogs(id: string, tail: number, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
    const res = await this.request('GET', `/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1&follow=1&tail=${tail}`, signal, false);
    if ((res.statusCode ?? 0) >= 400) throw new DockerError(res.statusCode ?? 0, `logs ${id}: ${res.statusCode} ${(await readAll(res)).toString('utf8').trim()}`);
    const frames = new FrameDecoder();
    for await (const chunk of res) {
      const text = frames.push(chunk as Buffer);
      if (text) onText(text);
    }
  }

  /**
   * Follows container events of the project until `signal` aborts or the stream ends; `onOpen` runs
   * once the stream is subscribed (list after that, so nothing falls between), each parsed event
   * goes to `onEvent`.
   */
  async events(project: string, onEvent: (e: DockerEvent) => void, onOpen: () => void, signal: AbortSignal): Promise<void> {
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'], label: [`${PROJECT_LABEL}=${project}`] }));
    const res = await this.request('GET', `/events?filters=${filters}`, signal, false);
    if ((res.statusCode ?? 0) >= 400) throw new DockerError(res.statusCode ?? 0, `events: ${res.statusCode} ${(await readAll(res)).toString('utf8')}`);
    onOpen();
    let partial = '';
    res.setEncoding('utf8');
    for await (const chunk of res) {
      partial += chunk as string;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl).trim();
        partial = partial.slice(nl + 1);
        if (line) onEvent(JSON.parse(line) as DockerEvent);
      }
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class DockerError extends Error {
  override name = 'DockerError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Docker's stream framing: [stream, 0, 0, 0, size(4 bytes BE)] + payload, repeated. */
export function demux(raw: Buffer): string {
  const framed = raw.length >= 8 && raw[0]! <= 2 && raw[1] === 0 && raw[2] === 0 && raw[3] === 0;
  if (!framed) return raw.toString('utf8');
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const size = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** `demux` for a stream: frames may span chunks; a TTY container's stream is not framed at all. */
export class FrameDecoder {
  private pending = Buffer.alloc(0);
  private framed: boolean | undefined;

  push(chunk: Buffer): string {
    this.pending = Buffer.concat([this.pending, chunk]);
    if (this.framed === undefined) {
      if (this.pending.length < 8) return '';
      const b = this.pending;
      this.framed = b[0]! <= 2 && b[1] === 0 && b[2] === 0 && b[3] === 0;
    }
    if (!this.framed) {
      const text = this.pending.toString('utf8');
      this.pending = Buffer.alloc(0);
      return text;
    }
    const parts: Buffer[] = [];
    let offset = 0;
    while (offset + 8 <= this.pending.length) {
      const size = this.pending.readUInt32BE(offset + 4);
      if (offset + 8 + size > this.pending.length) break;
      parts.push(this.pending.subarray(offset + 8, offset + 8 + size));
      offset += 8 + size;
    }
    this.pending = this.pending.subarray(offset);
    return Buffer.concat(parts).toString('utf8');
  }
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
