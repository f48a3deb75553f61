import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, resolveLifecycle } from '../src/durations.js';
import { isPrevuError } from '../src/errors.js';

const line = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    if (isPrevuError(error)) return error.line;
    throw error;
  }
  return 'no error';
};

describe('durations', () => {
  it('parses units and sums parts; anything else is not a duration', () => {
    expect(['4h', '90m', '1h30m', '2d', '45s', ' 1H '].map(parseDuration)).toEqual([14_400, 5400, 5400, 172_800, 45, 3600]);
    expect(['', 'abc', '4', '4 h', '-1h', '1.5h', 'h', '1h-'].map(parseDuration)).toEqual(Array(8).fill(undefined));
    expect([3600, 5400, 168 * 3600, 61].map(formatDuration)).toEqual(['1h', '1h30m', '168h', '1m1s']);
  });

  it('resolves flags over the profile, within the bounds; never only pinned', () => {
    expect(resolveLifecycle({}, {}, {})).toEqual({ ttlSeconds: null, sleepAfterSeconds: 0, pinned: false });
    expect(resolveLifecycle({}, { ttlSeconds: 7200, sleepAfterSeconds: 600 }, {})).toEqual({ ttlSeconds: 7200, sleepAfterSeconds: 600, pinned: false });
    expect(resolveLifecycle({ ttl: '4h', sleepAfter: 'off' }, { ttlSeconds: 7200, sleepAfterSeconds: 600 }, {})).toEqual({ ttlSeconds: 14_400, sleepAfterSeconds: 0, pinned: false });
    expect(resolveLifecycle({ ttl: 'never', pin: true }, {}, {})).toEqual({ ttlSeconds: null, sleepAfterSeconds: 0, pinned: true });
    expect(line(() => resolveLifecycle({}, { ttlSeconds: null }, {}))).toBe("the profile's lifecycle.ttlSeconds null means the env never expires, which only a pinned env may do: add --pin, or give a TTL from 1h to 168h (e.g. --ttl 4h)");
    expect(line(() => resolveLifecycle({}, { ttlSeconds: 60 }, {}))).toBe("the profile's lifecycle.ttlSeconds 1m is out of range (1h to 168h): pick a value from 1h to 168h");
    expect(line(() => resolveLifecycle({ ttl: '5s' }, {}, {}))).toBe('--ttl 5s is out of range (1h to 168h): pick a value from 1h to 168h');
    // PREVU_SHORT_DURATIONS=1 (tests, demos) lowers the lower bounds to 1 s, not the upper ones
    expect(resolveLifecycle({ ttl: '5s', sleepAfter: '3s' }, {}, { PREVU_SHORT_DURATIONS: '1' })).toEqual({ ttlSeconds: 5, sleepAfterSeconds: 3, pinned: false });
    expect(line(() => resolveLifecycle({ ttl: '0s' }, {}, { PREVU_SHORT_DURATIONS: '1' }))).toBe('--ttl 0s is out of range (1s to 168h): pick a value from 1s to 168h');
  });
});
