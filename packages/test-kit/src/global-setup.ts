// vitest globalSetup: sweeps what an earlier interrupted run of this run id left, and at the end
// kills recorded processes and removes labeled Docker resources that a test failed to clean. Those
// are still leaks: their count goes to PREVU_TEST_SWEPT_FILE, which scripts/test.sh counts as failures.
import { writeFileSync } from 'node:fs';
import { sweepSync } from './docker.js';
import { killRecorded } from './process.js';

export function setup(): void {
  killRecorded();
  sweepSync();
}

export function teardown(): void {
  const killed = killRecorded();
  for (const leak of killed) console.error(`LEAK: process a test started and left running, killed after the suite: ${leak}`);
  const swept = sweepSync();
  if (swept) console.error(`test-kit: ${swept} Docker resources a test left were removed after the suite`);
  if (process.env.PREVU_TEST_SWEPT_FILE) writeFileSync(process.env.PREVU_TEST_SWEPT_FILE, String(swept + killed.length));
}
