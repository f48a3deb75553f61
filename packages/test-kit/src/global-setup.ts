// vitest globalSetup: sweeps what an earlier interrupted run of this run id left, and at the end
// kills recorded processes and removes labeled Docker resources that a test failed to clean.
import { sweepSync } from './docker.js';
import { killRecorded } from './process.js';

export function setup(): void {
  killRecorded();
  sweepSync();
}

export function teardown(): void {
  killRecorded();
  const swept = sweepSync();
  if (swept) console.error(`test-kit: swept ${swept} leftover Docker resources after the suite`);
}
