// Counters that are security limits (wrong share passwords, one-use dashboard login tokens): in
// this process alone, or in Redis for a cluster (cluster/redis-state.ts), so that N nodes do not
// give N times the tries. The rules that use them (how many, how long) stay with their owners.

export interface Counters {
  /** Counts one attempt at `name` in a window of `windowMs` from its first; resolves to the attempts so far, this one included. */
  count(name: string, windowMs: number): Promise<number>;
  /** Takes one attempt back (it was a right one); nothing once the window ended. */
  uncount(name: string): Promise<void>;
  /** True the first time `name` is claimed within `ttlMs`, false after: a token good once. */
  once(name: string, ttlMs: number): Promise<boolean>;
}

export class LocalCounters implements Counters {
  private readonly counts = new Map<string, { count: number; until: number }>();
  private readonly claimed = new Map<string, number>();

  count(name: string, windowMs: number): Promise<number> {
    const now = Date.now();
    let seen = this.counts.get(name);
    if (!seen || seen.until <= now) {
      for (const [old, c] of this.counts) if (c.until <= now) this.counts.delete(old);
      seen = { count: 0, until: now + windowMs };
      this.counts.set(name, seen);
    }
    return Promise.resolve(++seen.count);
  }

  uncount(name: string): Promise<void> {
    const seen = this.counts.get(name);
    if (seen && seen.until > Date.now()) seen.count--;
    return Promise.resolve();
  }

  once(name: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    for (const [old, until] of this.claimed) if (until <= now) this.claimed.delete(old);
    if (this.claimed.has(name)) return Promise.resolve(false);
    this.claimed.set(name, now + ttlMs);
    return Promise.resolve(true);
  }
}
