import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = new URL('../../../scripts/ensure-docker.sh', import.meta.url).pathname;

describe('scripts/ensure-docker.sh', () => {
  it('returns at once when Docker, compose, OpenSSH and the base images are in place', () => {
    const result = spawnSync('bash', [script], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/ready: engine .* compose /);
  });

  it('where it cannot install, lists exactly what to install and exits non-zero', () => {
    // A machine with no docker, no ssh and no apt-get: only the tools the script itself needs.
    const bin = mkdtempSync(join(tmpdir(), 'bare-bin-'));
    for (const tool of ['id', 'printf']) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
    const result = spawnSync('/bin/bash', [script], { encoding: 'utf8', env: { PATH: bin } });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('cannot install here (not Debian)');
    expect(result.stderr).toContain('- Docker Engine');
    expect(result.stderr).toContain('- OpenSSH client');
  });
});
