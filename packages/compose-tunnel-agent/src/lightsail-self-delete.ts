// A Lightsail env deletes its own instance when its TTL passes (the `expired` event of the agent's
// EventLog), so a forgotten env stops billing with no laptop or CI online. The machine runs the
// PR's code, so the credential here is a dedicated one whose IAM policy allows nothing but
// lightsail:DeleteInstance on instances tagged by prevu (site/docs/drivers.md); it arrives as the
// compose secret prevu_lightsail_delete, never in the environment, and is never logged. The AWS
// SDK is imported on the first `expired` only.
import type { Logger } from 'pino';
import { errors } from '@prevu/core/errors';
import { poll } from '@prevu/core/poll';
import type { EventLog } from './event-log.js';

export interface SelfDeleteSettings {
  instanceName: string;
  region: string;
  /** The Lightsail endpoint the CLI used (AWS_ENDPOINT_URL_LIGHTSAIL), when not AWS's own. */
  endpoint?: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** How long the agent keeps trying (AWS unreachable, throttled), and how often. */
const RETRY = { timeoutMs: 6 * 3600_000, intervalMs: 5_000, growth: 2, maxIntervalMs: 600_000 };

/** Deletes the instance once, at the first `expired` event; returns the unsubscribe function and the deletion (settled when it has ended). */
export function deleteOnExpiry(events: EventLog, settings: SelfDeleteSettings, log: Logger, retry = RETRY): { stop: () => void; done: Promise<void> } {
  let start!: () => void;
  const expired = new Promise<void>((resolve) => (start = resolve));
  const stop = events.subscribe((event) => {
    if (event.type === 'expired') start();
  });
  const done = expired.then(async () => {
    stop();
    log.info({ instance: settings.instanceName, region: settings.region }, 'TTL passed: deleting this Lightsail instance');
    await deleteInstance(settings, log, retry).then(
      () => log.info({ instance: settings.instanceName }, 'Lightsail instance deleted'),
      (error: Error) => log.error({ instance: settings.instanceName, err: error.message }, 'could not delete this Lightsail instance: `prevu gc` removes it'),
    );
  });
  return { stop, done };
}

async function deleteInstance(settings: SelfDeleteSettings, log: Logger, retry: typeof RETRY): Promise<void> {
  const { DeleteInstanceCommand, LightsailClient } = await import('./aws-lightsail.js');
  // a copy: the SDK marks the object it is given
  const client = new LightsailClient({ region: settings.region, credentials: { ...settings.credentials }, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}) });
  try {
    await poll(
      async () => {
        try {
          await client.send(new DeleteInstanceCommand({ instanceName: settings.instanceName }));
          return true;
        } catch (error) {
          const name = (error as Error).name;
          // Gone already (a `prevu down` or `gc` got there first): that is the goal.
          if (name === 'NotFoundException') return true;
          // A credential that may not delete will not start to: no point in asking again.
          if (name === 'AccessDeniedException' || name === 'UnrecognizedClientException') throw error;
          log.warn({ instance: settings.instanceName, err: (error as Error).message }, 'deleting this Lightsail instance failed; trying again');
          return undefined;
        }
      },
      retry,
      () => errors.selfDeleteGaveUp(settings.instanceName, String(Math.round(retry.timeoutMs / 60_000))),
    );
  } finally {
    client.destroy();
  }
}
