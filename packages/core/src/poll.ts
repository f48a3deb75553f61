// The one poll loop: try, and until something comes back wait a little longer each time, up to a
// bound (the URLs, the embedded server's health, a cloud instance booting, SSH and Docker on it).
import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  /** The bound: after it the next failed try ends the wait. */
  timeoutMs: number;
  /** Wait before the second try; each later wait is `growth` times the last, at most `maxIntervalMs`. */
  intervalMs: number;
  growth?: number;
  maxIntervalMs?: number;
  /** Aborts the wait between tries (AbortError). */
  signal?: AbortSignal;
}

/**
 * Calls `attempt(elapsedMs)` until it gives a value; once `timeoutMs` has passed, the error
 * `timedOut(elapsedMs)` makes ends it instead.
 */
export async function poll<T>(attempt: (elapsedMs: number) => Promise<T | undefined>, options: PollOptions, timedOut: (elapsedMs: number) => Error): Promise<T> {
  const started = Date.now();
  let interval = options.intervalMs;
  for (;;) {
    const value = await attempt(Date.now() - started);
    if (value !== undefined) return value;
    const elapsed = Date.now() - started;
    if (elapsed >= options.timeoutMs) throw timedOut(elapsed);
    await sleep(Math.min(interval, options.timeoutMs - elapsed), undefined, options.signal ? { signal: options.signal } : undefined);
    interval = Math.min(interval * (options.growth ?? 1), options.maxIntervalMs ?? Number.POSITIVE_INFINITY);
  }
}
