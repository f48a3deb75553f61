// The images prevu builds on the target Docker: the agent and the embedded tunnel server. Their
// build contexts (a Dockerfile and one bundle) ship inside their packages, which core declares, so
// package resolution finds them the same way in a checkout (workspace links) and in an install.
// Tags come from the content, so a changed bundle is never run from a stale image.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { errors } from './errors.js';

export interface ImageSource {
  pkg: string;
  repository: string;
  /** What goes into the image, relative to the package; the tag hashes these. */
  files: string[];
}

export const AGENT_IMAGE: ImageSource = { pkg: '@prevu/compose-tunnel-agent', repository: 'prevu-compose-tunnel-agent', files: ['Dockerfile', 'dist/agent.mjs', 'dist/aws-lightsail.mjs'] };
export const TUNNEL_SERVER_IMAGE: ImageSource = { pkg: '@prevu/tunnel-server', repository: 'prevu-tunnel-server', files: ['Dockerfile', 'dist/bundle/tunnel-server.mjs'] };

export interface ImageBuild {
  /** The build context: the package's directory (its .dockerignore keeps only `files`). */
  context: string;
  image: string;
}

const require = createRequire(import.meta.url);

export function imageBuild(source: ImageSource): ImageBuild {
  let context: string;
  try {
    context = dirname(require.resolve(`${source.pkg}/package.json`));
  } catch {
    throw errors.artifactMissing(source.pkg, 'is not installed beside @prevu/core');
  }
  const hash = createHash('sha256');
  for (const file of source.files) {
    try {
      hash.update(readFileSync(join(context, file)));
    } catch {
      throw errors.artifactMissing(source.pkg, `has no ${file} (in ${context})`);
    }
  }
  return { context, image: `${source.repository}:${hash.digest('hex').slice(0, 12)}` };
}
