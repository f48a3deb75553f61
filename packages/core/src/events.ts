// Events an environment goes through: printed as JSON lines by `--json`, streamed by the agent.
import { z } from 'zod';

export const EVENT_TYPES = [
  'build_registered',
  'image_built',
  'image_pulled',
  'container_allocated',
  'starting',
  'healthy',
  'url_assigned',
  'unhealthy',
  'crash_loop',
  'stopped',
] as const;

export const prevuEventSchema = z.object({
  type: z.enum(EVENT_TYPES),
  envId: z.string(),
  service: z.string().optional(),
  time: z.string(),
  details: z.record(z.string(), z.unknown()).default({}),
});

export type PrevuEventType = (typeof EVENT_TYPES)[number];
export type PrevuEvent = z.infer<typeof prevuEventSchema>;

export function makeEvent(
  type: PrevuEventType,
  envId: string,
  service?: string,
  details: Record<string, unknown> = {},
): PrevuEvent {
  return { type, envId, ...(service === undefined ? {} : { service }), time: new Date().toISOString(), details };
}
