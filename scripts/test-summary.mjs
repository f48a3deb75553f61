// Prints the plain line CI counts: `N passed, N failed` (leaked Docker resources count as failures).
import { readFileSync } from 'node:fs';

const [file, leakArg = '0'] = process.argv.slice(2);
const leaks = Number(leakArg);
let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
} catch (error) {
  console.error(`test-summary: no vitest report at ${file} (${error.message})`);
  failed += 1;
}
if (leaks > 0) console.error(`test-summary: ${leaks} leaked Docker resource(s) count as failures`);
failed += leaks;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
