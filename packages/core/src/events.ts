// Events an environment goes through: printed as JSON lines by `--json`, streamed by the agent.
export const EVENT_TYPES = [
  'build_registered',
  'image_built',
  /** compose pulled the service's image from its registry (details: image). */
  'image_pulled',
  'container_allocated',
  'starting',
  'healthy',
  'url_assigned',
  'unhealthy',
  'crash_loop',
  'stopped',
  /** The agent found why a service is not ready (details: cause, fix); again when the cause changes. */
  'diagnosis',
  /** The TTL passed: services stopped, URLs answer 410 until `prevu up` again (details: expiresAt). */
  'expired',
  /** No request for `sleepAfter`: services are being stopped (details: idleSeconds). */
  'sleeping',
  /** A request came for an asleep env: its services are starting. */
  'waking',
  /** Every service is ready again after a wake (details: wakeMs). */
  'woke',
] as const;

export type PrevuEventType = (typeof EVENT_TYPES)[number];

/** No zod here: the agent bundles this module and every MB of its RSS counts (its budget: 60 MB, packages/compose-tunnel-agent/README.md). */
export interface PrevuEvent {
  type: PrevuEventType;
  envId: string;
  service?: string;
  time: string;
  details: Record<string, unknown>;
}

export function makeEvent(
  type: PrevuEventType,
  envId: string,
  service?: string,
  details: Record<string, unknown> = {},
): PrevuEvent {
  return { type, envId, ...(service === undefined ? {} : { service }), time: new Date().toISOString(), details };
}

/** One line for people: time, type, service, details (`status`, `events`). */
export function describeEvent(event: PrevuEvent): string {
  const details = Object.keys(event.details).length ? `  ${JSON.stringify(event.details)}` : '';
  return `${event.time}  ${event.type}${event.service ? ` ${event.service}` : ''}${details}`;
}
