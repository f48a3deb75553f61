// Prints the plain line CI counts: `N passed, N failed` (leaked Docker resources count as failures).
import { readFileSync } from 'node:fs';

const [file, leakArg = '0'] = process.argv.slice(2);
const leaks = Number(leakArg);
let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests;
  // A file that fails outside a test (a beforeAll, an import) reports its tests as skipped: they
  // did not run, so they count as failed; a file with no tests to blame counts as one.
  for (const file of report.testResults ?? []) {
    if (file.status !== 'failed') continue;
    if (file.assertionResults.some((t) => t.status === 'failed')) continue;
    const notRun = file.assertionResults.filter((t) => t.status !== 'passed').length;
    failed += Math.max(notRun, 1);
  }
  if (report.success === false && failed === 0) failed = 1;
} catch (error) {
  console.error(`test-summary: no vitest report at ${file} (${error.message})`);
  failed += 1;
}
if (leaks > 0) console.error(`test-summary: ${leaks} leaked Docker resource(s) count as failures`);
failed += leaks;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
