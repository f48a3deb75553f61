// Random bytes for ssh2's packet padding, from a pool. ssh2 fills each packet's 4-19 padding bytes
// with its own crypto.randomFillSync call: 4.3 us per call, 14% of the tunnel server's and the
// agent's CPU at 20 busy connections (tunnel-server README, "Figures"); a copy from a 16 KiB pool
// of the same CSPRNG's bytes is 0.15 us. Each byte is used once.
//
// ssh2 takes randomFillSync from node:crypto when its protocol/crypto.js is first loaded, so this
// module swaps the pooled fill into node:crypto as it is evaluated and ssh2-padding.ts, which
// loads ssh2's module right after it, swaps the original back: no other code sees the pool.
import crypto from 'node:crypto';

const POOL_BYTES = 16 * 1024;
const original = crypto.randomFillSync;
let pool = Buffer.alloc(0);
let at = 0;
let served = 0;

function pooledFill<T extends NodeJS.ArrayBufferView>(buffer: T, offset?: number, size?: number): T {
  // ssh2 asks for a few bytes at an offset of a Buffer; anything else is not padding
  if (!Buffer.isBuffer(buffer) || offset === undefined || size === undefined || size > 255) return original(buffer, offset, size);
  if (at + size > pool.length) {
    pool = original(Buffer.allocUnsafeSlow(POOL_BYTES));
    at = 0;
  }
  pool.copy(buffer, offset, at, at + size);
  at += size;
  served++;
  return buffer;
}

crypto.randomFillSync = pooledFill as typeof crypto.randomFillSync;

export function restoreRandomFill(): void {
  crypto.randomFillSync = original;
}

/** How many paddings the pool has filled: 0 means ssh2 was loaded before ssh2-padding.ts. */
export function pooledPaddings(): number {
  return served;
}
