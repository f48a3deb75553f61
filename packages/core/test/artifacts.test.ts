// The image build contexts, found by package resolution: their tags follow the content, and a
// package that is missing, or lacks a file the image needs, is one line that says how to fix it.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_IMAGE, imageBuild, TUNNEL_SERVER_IMAGE } from '../src/artifacts.js';

describe('imageBuild', () => {
  it.each([AGENT_IMAGE, TUNNEL_SERVER_IMAGE])('$pkg: the package directory, tagged by the hash of what goes into the image', (source) => {
    const { context, image } = imageBuild(source);
    expect(JSON.parse(readFileSync(join(context, 'package.json'), 'utf8'))).toMatchObject({ name: source.pkg });
    const hash = createHash('sha256');
    for (const file of source.files) hash.update(readFileSync(join(context, file)));
    expect(image).toBe(`${source.repository}:${hash.digest('hex').slice(0, 12)}`);
  });

  it('a package that is not installed, or lacks a file, is PREVU_NOT_BUILT with the fix', () => {
    expect(() => imageBuild({ ...AGENT_IMAGE, pkg: '@prevu/not-there' })).toThrow(
      expect.objectContaining({ code: 'PREVU_NOT_BUILT', line: expect.stringMatching(/^@prevu\/not-there is not installed beside @prevu\/core: reinstall prevu/) }),
    );
    expect(() => imageBuild({ ...AGENT_IMAGE, files: ['Dockerfile', 'dist/missing.mjs'] })).toThrow(
      expect.objectContaining({ code: 'PREVU_NOT_BUILT', message: expect.stringMatching(/^@prevu\/compose-tunnel-agent has no dist\/missing\.mjs \(in /) }),
    );
  });
});
