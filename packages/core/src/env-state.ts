// What prevu remembers of a deployed env, one state.json per env under the profile
// (envs/<envId>/state.json in the profile's object store: its folder, or the bucket of a store
// profile, store/). It is written before compose starts, so an `up` stopped half-way (Ctrl-C, a
// crash) is still listed by `ls` and removed by `down`. Every write names the version this
// command read, so a change another machine made meanwhile is reported, never overwritten.
import { mkdirSync, rmSync } from 'node:fs';
import { z } from 'zod';
import { toLabelPart } from './names.js';
import type { ProfileStore } from './profiles.js';
import { openStore } from './store/open.js';
import type { ObjectStore } from './store/object-store.js';

export const envStateSchema = z.object({
  version: z.literal(1),
  envId: z.string(),
  profile: z.string(),
  driver: z.string(),
  /** The compose project on the machine: prevu-<envId>. */
  project: z.string(),
  /** Where the user's project is (`ls` shows it). */
  source: z.object({ dir: z.string() }),
  services: z.array(z.string()).optional(),
  /** `prevu expose`: the user's own compose project the agent tunnels (`project` then holds only the agent). */
  exposes: z.string().optional(),
  accountId: z.string(),
  baseUrl: z.string(),
  status: z.enum(['deploying', 'up', 'failed', 'interrupted']),
  /** Why the last `up` failed (its one line), for `prevu doctor --id` when no agent answers. */
  failure: z.object({ code: z.string(), line: z.string() }).optional(),
  /** TTL, pin and sleep as the last `up` (or `pin`/`unpin`) set them; absent: made before lifecycles. */
  lifecycle: z
    .object({
      /** When the TTL ends (ISO 8601); null: never. */
      expiresAt: z.string().nullable(),
      pinned: z.boolean(),
      /** 0: never sleeps. */
      sleepAfterSeconds: z.number().int().nonnegative(),
    })
    .optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type EnvState = z.infer<typeof envStateSchema>;

const stateKey = (envId: string) => `envs/${envId}/state.json`;

export class EnvStateStore {
  /** Each env's state as this command last read or wrote it, and its version (null: none was there). */
  private readonly seen = new Map<string, { etag: string | null; state?: EnvState }>();
  private store?: Promise<ObjectStore>;

  constructor(
    private readonly profiles: ProfileStore,
    private readonly profile: string,
  ) {}

  /** This machine's folder for the env (the overlay compose reads). */
  dir(envId: string): string {
    return this.profiles.envDir(this.profile, envId);
  }

  private objects(): Promise<ObjectStore> {
    this.store ??= openStore(this.profiles.read(this.profile).store, this.profiles.profileDir(this.profile));
    return this.store;
  }

  async read(envId: string): Promise<EnvState | undefined> {
    const store = await this.objects();
    const found = await store.get(stateKey(envId));
    const state = found ? parseState(found.text, envId) : undefined;
    this.seen.set(envId, { etag: found?.etag ?? null, ...(state ? { state } : {}) });
    return state;
  }

  /** Writes the env's state over the version this command saw (read first if it saw none). */
  async write(state: Omit<EnvState, 'updatedAt' | 'createdAt' | 'version'> & { createdAt?: string }): Promise<EnvState> {
    if (!this.seen.has(state.envId)) await this.read(state.envId);
    const { etag, state: previous } = this.seen.get(state.envId)!;
    const now = new Date().toISOString();
    const full = envStateSchema.parse({ ...state, version: 1, createdAt: state.createdAt ?? previous?.createdAt ?? now, updatedAt: now });
    const store = await this.objects();
    const written = await store.put(stateKey(state.envId), `${JSON.stringify(full, null, 2)}\n`, etag ? { ifMatch: etag } : { ifNoneMatch: true });
    this.seen.set(state.envId, { etag: written, state: full });
    mkdirSync(this.dir(state.envId), { recursive: true });
    return full;
  }

  async setStatus(envId: string, status: EnvState['status'], failure?: EnvState['failure']): Promise<void> {
    const state = this.seen.has(envId) ? this.seen.get(envId)!.state : await this.read(envId);
    if (!state) return;
    const { failure: _previous, ...rest } = state;
    await this.write({ ...rest, status, ...(failure ? { failure } : {}) });
  }

  async list(): Promise<EnvState[]> {
    const store = await this.objects();
    // a shared bucket may hold keys prevu did not write: only env ids prevu could have made count
    const ids = (await store.list('envs/')).map((key) => /^envs\/([^/]+)\/state\.json$/.exec(key)?.[1]).filter((id): id is string => id !== undefined && toLabelPart(id) === id);
    const states = await Promise.all(ids.map((id) => this.read(id)));
    return states.filter((s): s is EnvState => s !== undefined).sort((a, b) => a.envId.localeCompare(b.envId));
  }

  /** Removes the env's state (if it is still the version this command saw) and this machine's folder for it. */
  async remove(envId: string): Promise<void> {
    const store = await this.objects();
    const etag = this.seen.get(envId)?.etag;
    await store.delete(stateKey(envId), etag ?? undefined);
    this.seen.set(envId, { etag: null });
    rmSync(this.dir(envId), { recursive: true, force: true });
  }
}

/** A state file prevu did not write (or an older prevu's, or one filed under another env) reads as no state. */
function parseState(text: string, envId: string): EnvState | undefined {
  try {
    const parsed = envStateSchema.safeParse(JSON.parse(text));
    return parsed.success && parsed.data.envId === envId ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
