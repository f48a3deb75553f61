// Finds processes started by a test run and still alive after it: every process the suite starts
// inherits PREVU_TEST_RUN (an sshd, a tunnel server, an `ssh -R`, whether or not the kit started
// it). Each one is named on stderr and killed; their count goes to stdout for the summary.
// Usage: node scripts/leaked-processes.mjs <run id> [pid to spare ...]
import { readdirSync, readFileSync } from 'node:fs';

const [runId, ...spare] = process.argv.slice(2);
if (!runId) {
  console.error('leaked-processes: usage: leaked-processes.mjs <run id> [pid to spare ...]');
  process.exit(2);
}
const mark = `PREVU_TEST_RUN=${runId}`;
const spared = new Set([String(process.pid), String(process.ppid), ...spare]);
let leaks = 0;
for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name) && !spared.has(name))) {
  let environ;
  let cmdline;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim();
  } catch {
    continue; // gone meanwhile, or not ours to read
  }
  if (!environ.includes(mark)) continue;
  console.error(`LEAK: process left after the suite, killed: ${pid} (${cmdline.slice(0, 120)})`);
  try {
    process.kill(Number(pid), 'SIGKILL');
  } catch {
    // it ended on its own meanwhile: still a leak at the time it was seen
  }
  leaks++;
}
console.log(leaks);
