import { describe, expect, it } from 'vitest';
import { poll } from '../src/poll.js';

describe('poll', () => {
  it('tries until a value comes back, waiting longer each time up to the cap', async () => {
    const seen: number[] = [];
    const value = await poll(async (elapsed) => (seen.push(elapsed), seen.length === 4 ? 'ok' : undefined), { timeoutMs: 10_000, intervalMs: 10, growth: 2, maxIntervalMs: 30 }, () => new Error('timed out'));
    expect(value).toBe('ok');
    // waits of 10, 20, then 30 (capped) ms between the four tries
    const gaps = seen.slice(1).map((t, i) => t - seen[i]!);
    expect(gaps.map((g, i) => g >= [10, 20, 30][i]! - 2)).toEqual([true, true, true]);
  });

  it('ends with the error timedOut makes once the bound has passed, after a last try', async () => {
    let tries = 0;
    const error = await poll(async () => void tries++, { timeoutMs: 50, intervalMs: 20 }, (elapsed) => new Error(`after ${elapsed >= 50 ? 'the bound' : 'too soon'}`)).catch((e: Error) => e);
    expect((error as Error).message).toBe('after the bound');
    expect(tries).toBeGreaterThanOrEqual(2);
  });

  it('stops waiting when aborted (AbortError)', async () => {
    const controller = new AbortController();
    const error = await poll(async () => (controller.abort(), undefined), { timeoutMs: 60_000, intervalMs: 30_000, signal: controller.signal }, () => new Error('timed out')).catch((e: Error) => e);
    expect((error as Error).name).toBe('AbortError');
  });
});
