// The suite's own bookkeeping (scripts/test.sh): the last line CI reads must not say a run passed
// while tests were skipped, focused with `.only`, left processes behind, or never ran at all.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useKit, waitFor } from '../src/index.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const kit = useKit();

/** Inside the repository, so that the files written there resolve `vitest` from its node_modules. */
function tempDir(): string {
  mkdirSync(join(repo, '.test-results'), { recursive: true });
  const dir = mkdtempSync(join(repo, '.test-results', 'summary-'));
  kit.defer(`dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs vitest with the repository's own config on one test file written to a temp dir. */
function vitestOn(source: string): { status: number | null; report: string; output: string } {
  const dir = tempDir();
  writeFileSync(join(dir, 'sample.test.ts'), source);
  writeFileSync(
    join(dir, 'vitest.config.ts'),
    `import { mergeConfig } from 'vitest/config';
import base from ${JSON.stringify(join(repo, 'vitest.config.ts'))};
export default mergeConfig({ ...base, test: { ...base.test, include: [], globalSetup: [] } }, { test: { root: ${JSON.stringify(dir)}, include: ['sample.test.ts'] } });
`,
  );
  const report = join(dir, 'report.json');
  const run = spawnSync(join(repo, 'node_modules/.bin/vitest'), ['run', '--config', join(dir, 'vitest.config.ts'), '--reporter=json', `--outputFile=${report}`], { cwd: repo, encoding: 'utf8', env: { ...process.env, CI: '' } });
  return { status: run.status, report, output: run.stdout + run.stderr };
}

function summary(report: string, env: NodeJS.ProcessEnv = {}, leaks = '0') {
  const run = spawnSync(process.execPath, [join(repo, 'scripts/test-summary.mjs'), report, leaks], { encoding: 'utf8', env: { ...process.env, CI: '', ...env } });
  return { status: run.status, line: run.stdout.trim(), stderr: run.stderr };
}

describe('the run summary', () => {
  const sample = `import { it, expect } from 'vitest';
it('runs', () => expect(1).toBe(1));
it.skip('is skipped', () => expect(1).toBe(2));
it.todo('is to do');
`;

  it('lists skipped and todo tests, and counts them as failures in CI', () => {
    const { report } = vitestOn(sample);
    const local = summary(report);
    expect(local.line).toBe('1 passed, 0 failed');
    expect(local.stderr).toContain('2 test(s) did not run');
    expect(local.stderr).toMatch(/skipped: .*sample\.test\.ts > is skipped/);
    expect(local.stderr).toMatch(/todo: .*sample\.test\.ts > is to do/);
    const ci = summary(report, { CI: 'true' });
    expect([ci.status, ci.line]).toEqual([1, '1 passed, 2 failed']);
  });

  it('fails a run focused with .only (allowOnly is off in the repository config)', () => {
    const focused = vitestOn(`import { it, expect } from 'vitest';
it.only('focused', () => expect(1).toBe(1));
it('left out', () => expect(1).toBe(1));
`);
    expect(focused.status).not.toBe(0);
    expect(readFileSync(focused.report, 'utf8')).toMatch(/Unexpected \.only modifier/);
    expect(summary(focused.report).status).toBe(1);
  });

  it('counts leaks as failures', () => {
    const { report } = vitestOn(`import { it, expect } from 'vitest';\nit('runs', () => expect(1).toBe(1));\n`);
    expect(summary(report, {}, '2')).toMatchObject({ status: 1, line: '1 passed, 2 failed' });
  });

  it('finds, names and kills a process a test left running, whoever started it', async () => {
    const runId = `leaktest${process.pid}`;
    const orphan = spawn('sleep', ['300'], { env: { ...process.env, PREVU_TEST_RUN: runId }, detached: true, stdio: 'ignore' });
    kit.defer('orphan sleep', () => orphan.kill('SIGKILL'));
    const exited = new Promise((resolve) => orphan.once('exit', resolve));
    const found = spawnSync(process.execPath, [join(repo, 'scripts/leaked-processes.mjs'), runId], { encoding: 'utf8' });
    expect(found.stdout.trim()).toBe('1');
    expect(found.stderr).toContain(`LEAK: process left after the suite, killed: ${orphan.pid} (sleep 300)`);
    await waitFor('the orphan to be killed', () => exited, 5000);
  });

  it('ends with `0 passed, 1 failed` naming the step when set-up fails before vitest', () => {
    // A build that fails: `npm` on the PATH is a stub exiting 3 (Docker is already ensured here).
    const bin = tempDir();
    writeFileSync(join(bin, 'npm'), '#!/bin/sh\necho "npm stub: build broken" >&2\nexit 3\n');
    chmodSync(join(bin, 'npm'), 0o755);
    const run = spawnSync('bash', [join(repo, 'scripts/test.sh')], { cwd: repo, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    expect(run.status).toBe(3);
    expect(run.stdout.trim().split('\n').slice(-2)).toEqual(['test: npm run build failed (exit 3): no test ran', '0 passed, 1 failed']);
  });
});
