import type { PinResult } from '@prevu/core/envs/pin';
import Pin from './pin.js';

export default class Unpin extends Pin {
  static override description = 'End a pin: the env expires at its TTL (at once if it has passed) and sleeps when idle again';
  static override examples = ['<%= config.bin %> unpin', '<%= config.bin %> unpin demo'];
  protected override readonly pinned: boolean = false;

  protected override done(result: PinResult): string {
    const { expiresAt, sleepAfterSeconds } = result.lifecycle;
    return `unpinned ${result.envId}: ${expiresAt ? `expires ${expiresAt}` : 'no TTL'}, ${sleepAfterSeconds ? `sleeps after ${sleepAfterSeconds} s without a request` : 'never sleeps'}`;
  }
}
