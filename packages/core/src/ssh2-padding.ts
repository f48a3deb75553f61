// Import this first in a process's entry (tunnel server, agent), before anything that loads ssh2:
// ssh2's packet padding then comes from a pool (ssh2-padding-pool.ts says why).
import { restoreRandomFill } from './ssh2-padding-pool.js';
import 'ssh2/lib/protocol/crypto.js';

restoreRandomFill();

export { pooledPaddings } from './ssh2-padding-pool.js';
