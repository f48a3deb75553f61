// Lifecycle durations (`up --ttl`, `--sleep-after`, the profile's lifecycle defaults): one parser
// and one set of bounds, so the CLI, the profile and the docs cannot disagree. A duration is one
// or more `<whole number><unit>` parts (s, m, h, d): `4h`, `90m`, `1h30m`, `2d`.
// PREVU_SHORT_DURATIONS=1 lowers every lower bound to 1 s, for tests and demos that cannot wait an
// hour (documented in site/docs/cli.md); the upper bounds stay.
import { errors } from './errors.js';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

export const TTL_BOUNDS = { min: 3600, max: 168 * 3600 } as const;
export const SLEEP_AFTER_BOUNDS = { min: 60, max: 168 * 3600 } as const;

/** The setting that allows durations below the bounds (seconds), for tests and demos. */
export const SHORT_DURATIONS_ENV = 'PREVU_SHORT_DURATIONS';

/** Seconds of `text`, or undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (!/^(\d+[smhd])+$/.test(trimmed)) return undefined;
  let seconds = 0;
  for (const [, n, unit] of trimmed.matchAll(/(\d+)([smhd])/g)) seconds += Number(n) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS];
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** `3600` -> `1h`, `5400` -> `1h30m`, a week -> `168h`: how a duration is shown back. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  let left = seconds;
  let out = '';
  for (const [unit, size] of [['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (left >= size) {
      out += `${Math.floor(left / size)}${unit}`;
      left %= size;
    }
  }
  return out;
}

function shortAllowed(env: NodeJS.ProcessEnv): boolean {
  return ['1', 'true', 'yes'].includes((env[SHORT_DURATIONS_ENV] ?? '').toLowerCase());
}

function checkBounds(setting: string, seconds: number, bounds: { min: number; max: number }, env: NodeJS.ProcessEnv, typed = formatDuration(seconds)): number {
  const min = shortAllowed(env) ? 1 : bounds.min;
  if (seconds < min || seconds > bounds.max) throw errors.durationOutOfRange(`${setting} ${typed}`, `${formatDuration(min)} to ${formatDuration(bounds.max)}`);
  return seconds;
}

export interface LifecycleInput {
  /** `--ttl` as typed: a duration, or `0`/`never`. */
  ttl?: string;
  /** `--sleep-after` as typed: a duration, or `0`/`off`/`never`. */
  sleepAfter?: string;
  pin?: boolean;
}

export interface LifecycleDefaults {
  ttlSeconds?: number | null;
  sleepAfterSeconds?: number;
}

export interface LifecycleSettings {
  /** null: never expires (pinned envs only), or no TTL asked for at all. */
  ttlSeconds: number | null;
  /** 0: never sleeps. */
  sleepAfterSeconds: number;
  pinned: boolean;
}

const NEVER = new Set(['0', 'never', 'off']);

/**
 * The env's TTL, sleep and pin from `up`'s flags over the profile's defaults, checked against the
 * bounds: a TTL of 1h to 168h (`0`/`never` only with --pin; none given: no TTL), sleep off or 1m to 168h.
 */
export function resolveLifecycle(input: LifecycleInput, defaults: LifecycleDefaults = {}, env: NodeJS.ProcessEnv = process.env): LifecycleSettings {
  const pinned = input.pin ?? false;
  let ttlSeconds: number | null;
  if (input.ttl !== undefined) {
    if (NEVER.has(input.ttl.trim().toLowerCase())) {
      if (!pinned) throw errors.ttlNeverNeedsPin(`--ttl ${input.ttl}`);
      ttlSeconds = null;
    } else {
      const seconds = parseDuration(input.ttl);
      if (seconds === undefined) throw errors.durationInvalid('--ttl', input.ttl);
      ttlSeconds = checkBounds('--ttl', seconds, TTL_BOUNDS, env, input.ttl);
    }
  } else if (defaults.ttlSeconds === null) {
    if (!pinned) throw errors.ttlNeverNeedsPin('the profile\'s lifecycle.ttlSeconds null');
    ttlSeconds = null;
  } else {
    ttlSeconds = defaults.ttlSeconds === undefined ? null : checkBounds('the profile\'s lifecycle.ttlSeconds', defaults.ttlSeconds, TTL_BOUNDS, env);
  }
  let sleepAfterSeconds = 0;
  if (input.sleepAfter !== undefined) {
    if (!NEVER.has(input.sleepAfter.trim().toLowerCase())) {
      const seconds = parseDuration(input.sleepAfter);
      if (seconds === undefined) throw errors.durationInvalid('--sleep-after', input.sleepAfter);
      sleepAfterSeconds = checkBounds('--sleep-after', seconds, SLEEP_AFTER_BOUNDS, env, input.sleepAfter);
    }
  } else if (defaults.sleepAfterSeconds) {
    sleepAfterSeconds = checkBounds('the profile\'s lifecycle.sleepAfterSeconds', defaults.sleepAfterSeconds, SLEEP_AFTER_BOUNDS, env);
  }
  return { ttlSeconds, sleepAfterSeconds, pinned };
}
