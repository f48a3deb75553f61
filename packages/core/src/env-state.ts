// What prevu remembers of a deployed env, one state.json per env under the profile
// (profiles/<name>/envs/<envId>/). It is written before compose starts, so an `up` stopped
// half-way (Ctrl-C, a crash) is still listed by `ls` and removed by `down`.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ProfileStore } from './profiles.js';

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

export class EnvStateStore {
  constructor(
    private readonly profiles: ProfileStore,
    private readonly profile: string,
  ) {}

  dir(envId: string): string {
    return this.profiles.envDir(this.profile, envId);
  }

  read(envId: string): EnvState | undefined {
    const file = join(this.dir(envId), 'state.json');
    if (!existsSync(file)) return undefined;
    try {
      const parsed = envStateSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  write(state: Omit<EnvState, 'updatedAt' | 'createdAt' | 'version'> & { createdAt?: string }): EnvState {
    const previous = this.read(state.envId);
    const now = new Date().toISOString();
    const full = envStateSchema.parse({ ...state, version: 1, createdAt: state.createdAt ?? previous?.createdAt ?? now, updatedAt: now });
    mkdirSync(this.dir(state.envId), { recursive: true });
    writeFileSync(join(this.dir(state.envId), 'state.json'), `${JSON.stringify(full, null, 2)}\n`);
    return full;
  }

  setStatus(envId: string, status: EnvState['status'], failure?: EnvState['failure']): void {
    const state = this.read(envId);
    if (!state) return;
    const { failure: _previous, ...rest } = state;
    this.write({ ...rest, status, ...(failure ? { failure } : {}) });
  }

  list(): EnvState[] {
    const root = join(this.profiles.profileDir(this.profile), 'envs');
    if (!existsSync(root)) return [];
    return readdirSync(root)
      .map((envId) => this.read(envId))
      .filter((s): s is EnvState => s !== undefined)
      .sort((a, b) => a.envId.localeCompare(b.envId));
  }

  remove(envId: string): void {
    rmSync(this.dir(envId), { recursive: true, force: true });
  }
}
