// Per-env request and error counts over the last half hour, in one-minute buckets: what the
// dashboard draws as sparklines. Prometheus gets totals only (a label per env would grow without
// bound); this keeps 2 x 30 numbers per env and at most MAX_ENVS envs, the least recently counted
// dropped first, so memory stays bounded however many envs come and go.

export const BUCKETS = 30;
const BUCKET_MS = 60_000;
const MAX_ENVS = 10_000;

interface Series {
  /** The minute (since the epoch) of the newest bucket. */
  minute: number;
  requests: number[];
  errors: number[];
}

export interface EnvRate {
  /** Oldest first, one per minute; the last is the current minute. */
  requests: number[];
  errors: number[];
}

export class EnvRates {
  private readonly series = new Map<string, Series>();

  constructor(private readonly now: () => number = Date.now) {}

  request(key: string, envId: string): void {
    this.at(key, envId).requests[BUCKETS - 1]!++;
  }

  /** A request of the env that got a prevu error page of 5xx (tunnel gone, service refused, busy). */
  error(key: string, envId: string): void {
    this.at(key, envId).errors[BUCKETS - 1]!++;
  }

  /** The env's last BUCKETS minutes; zeros when nothing was counted. */
  of(key: string, envId: string): EnvRate {
    const s = this.series.get(`${key}/${envId}`);
    if (!s) return { requests: new Array<number>(BUCKETS).fill(0), errors: new Array<number>(BUCKETS).fill(0) };
    this.advance(s);
    return { requests: [...s.requests], errors: [...s.errors] };
  }

  private at(key: string, envId: string): Series {
    const id = `${key}/${envId}`;
    let s = this.series.get(id);
    if (s) {
      this.series.delete(id); // re-inserted last: the map's order is least recently counted first
    } else {
      if (this.series.size >= MAX_ENVS) this.series.delete(this.series.keys().next().value!);
      s = { minute: this.minute(), requests: new Array<number>(BUCKETS).fill(0), errors: new Array<number>(BUCKETS).fill(0) };
    }
    this.series.set(id, s);
    this.advance(s);
    return s;
  }

  private minute(): number {
    return Math.floor(this.now() / BUCKET_MS);
  }

  /** Shifts the buckets so the last one is the current minute. */
  private advance(s: Series): void {
    const shift = Math.min(this.minute() - s.minute, BUCKETS);
    if (shift <= 0) return;
    s.requests.splice(0, shift);
    s.errors.splice(0, shift);
    for (let i = 0; i < shift; i++) {
      s.requests.push(0);
      s.errors.push(0);
    }
    s.minute = this.minute();
  }
}
