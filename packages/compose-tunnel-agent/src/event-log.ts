// The agent's event stream: every event goes to live subscribers (WebSocket/SSE clients) and a
// bounded history, so a client that connects late still sees what happened (crash loops at start).
import { makeEvent, type PrevuEvent, type PrevuEventType } from '@prevu/core/events';

const HISTORY = 500;

export class EventLog {
  private readonly history: PrevuEvent[] = [];
  private readonly subscribers = new Set<(event: PrevuEvent) => void>();

  constructor(
    private readonly envId: string,
    private readonly onEmit: (event: PrevuEvent) => void = () => {},
  ) {}

  emit(type: PrevuEventType, service?: string, details: Record<string, unknown> = {}): PrevuEvent {
    const event = makeEvent(type, this.envId, service, details);
    this.history.push(event);
    if (this.history.length > HISTORY) this.history.shift();
    this.onEmit(event);
    for (const subscriber of this.subscribers) subscriber(event);
    return event;
  }

  /** Replays the history, then follows; returns the unsubscribe function. */
  subscribe(subscriber: (event: PrevuEvent) => void): () => void {
    for (const event of this.history) subscriber(event);
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }
}
