// Prints the plain line CI counts: `N passed, N failed`. Leaked Docker resources and processes
// count as failures; so do skipped and todo tests when CI is set (a skip there hides a test that
// should run), and they are listed everywhere.
import { readFileSync } from 'node:fs';

const [file, leakArg = '0'] = process.argv.slice(2);
const leaks = Number(leakArg);
let passed = 0;
let failed = 0;
const notRun = [];
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests;
  for (const result of report.testResults ?? []) {
    const pending = result.assertionResults.filter((t) => t.status !== 'passed' && t.status !== 'failed');
    if (result.status === 'failed' && !result.assertionResults.some((t) => t.status === 'failed')) {
      // A file that fails outside a test (a beforeAll, an import) reports its tests as skipped: they
      // did not run, so they count as failed; a file with no tests to blame counts as one.
      failed += Math.max(pending.length, 1);
      continue;
    }
    for (const t of pending) notRun.push(`${t.status}: ${result.name.replace(`${process.cwd()}/`, '')} > ${t.fullName}`);
  }
  if (report.success === false && failed === 0) failed = 1;
} catch (error) {
  console.error(`test-summary: no vitest report at ${file} (${error.message})`);
  failed += 1;
}
if (notRun.length) {
  console.error(`test-summary: ${notRun.length} test(s) did not run${process.env.CI ? ' and count as failures in CI' : ''}:`);
  for (const line of notRun) console.error(`  ${line}`);
  if (process.env.CI) failed += notRun.length;
}
if (leaks > 0) console.error(`test-summary: ${leaks} leaked Docker resource(s) or process(es) count as failures`);
failed += leaks;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
