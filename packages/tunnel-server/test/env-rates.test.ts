// Per-env request and error counts for the dashboard's sparklines: a bucket per minute for the
// last half hour, per key and env, zeros where nothing happened, and old minutes fall off.
import { describe, expect, it } from 'vitest';
import { BUCKETS, EnvRates } from '../src/env-rates.js';

describe('EnvRates', () => {
  it('counts per key and env in one-minute buckets that move with the clock', () => {
    let now = 10 * 60_000;
    const rates = new EnvRates(() => now);
    rates.request('SHA256:a', 'shop');
    rates.request('SHA256:a', 'shop');
    rates.error('SHA256:a', 'shop');
    rates.request('SHA256:b', 'shop');
    expect(rates.of('SHA256:a', 'shop').requests.at(-1)).toBe(2);
    expect(rates.of('SHA256:a', 'shop').errors.at(-1)).toBe(1);
    expect(rates.of('SHA256:b', 'shop').requests.at(-1)).toBe(1);
    expect(rates.of('SHA256:a', 'blog').requests).toEqual(new Array(BUCKETS).fill(0));
    now += 3 * 60_000;
    rates.request('SHA256:a', 'shop');
    const { requests, errors } = rates.of('SHA256:a', 'shop');
    expect(requests).toHaveLength(BUCKETS);
    expect(requests.slice(-4)).toEqual([2, 0, 0, 1]);
    expect(errors.slice(-4)).toEqual([1, 0, 0, 0]);
    // half an hour later everything counted before has fallen off
    now += BUCKETS * 60_000;
    expect(rates.of('SHA256:a', 'shop')).toEqual({ requests: new Array(BUCKETS).fill(0), errors: new Array(BUCKETS).fill(0) });
  });
});
