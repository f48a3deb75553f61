// Every resource the kit makes carries the label `dev.prevu.test=<runId>`, so a sweep finds it
// even after a crash. scripts/test.sh sets PREVU_TEST_RUN for the whole suite.
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_LABEL = 'dev.prevu.test';
export const runId: string = (process.env.PREVU_TEST_RUN ||= `r${randomBytes(4).toString('hex')}`);
export const runLabel = `${TEST_LABEL}=${runId}`;
/** Which process made a resource: an exit handler sweeps only its own, never another worker's. */
export const OWNER_LABEL = 'dev.prevu.test-owner';
export const ownerLabel = `${OWNER_LABEL}=${runId}-${process.pid}`;
/** Where the kit records the pids of processes it started, for the sweep after an interrupted run. */
export const pidDir = join(tmpdir(), `prevu-test-${runId}`, 'pids');

/** A short unique name for test resources: lowercase, DNS-safe. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}${randomBytes(3).toString('hex')}`;
}
