// HTTP from tests: resolves *.localhost to loopback like a browser does.
import { Agent, request, type Dispatcher } from 'undici';
import { localhostAwareLookup } from '@prevu/core';

export const localhostAgent = new Agent({ connect: { lookup: localhostAwareLookup } });

export interface GetResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export async function httpGet(url: string, options: { headers?: Record<string, string>; dispatcher?: Dispatcher; timeoutMs?: number } = {}): Promise<GetResult> {
  const res = await request(url, {
    dispatcher: options.dispatcher ?? localhostAgent,
    headers: options.headers,
    headersTimeout: options.timeoutMs ?? 10_000,
    bodyTimeout: options.timeoutMs ?? 10_000,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** Polls until `check` returns a value (not undefined), bounded by time. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
