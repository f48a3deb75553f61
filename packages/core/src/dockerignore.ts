// What a build never sees is not uploaded either: the rules of a build context's ignore file,
// matched with Docker's own semantics (@balena/dockerignore ports moby's matcher).
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import dockerignoreModule from '@balena/dockerignore';

// A CommonJS module whose typings declare an ES default: it sets `.default` to itself for this.
const dockerignore = dockerignoreModule.default;

/**
 * The ignore rules a build of `context` uses: `<Dockerfile>.dockerignore` beside the Dockerfile
 * wins over `<context>/.dockerignore`, as with BuildKit. Undefined when there is neither.
 */
export function readBuildIgnore(context: string, dockerfile = 'Dockerfile'): string[] | undefined {
  const dockerfilePath = isAbsolute(dockerfile) ? dockerfile : join(context, dockerfile);
  for (const file of [`${dockerfilePath}.dockerignore`, join(context, '.dockerignore')]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    return text.split(/\r?\n/);
  }
  return undefined;
}

export interface IgnoreRules {
  /** True when `rel` (posix, relative to the context root) is left out of the build. */
  ignores(rel: string): boolean;
  /** Whether a `!` rule may take back something inside an ignored directory (it must be walked). */
  readonly hasExceptions: boolean;
}

export function ignoreRules(patterns: string[]): IgnoreRules {
  const matcher = dockerignore({ ignorecase: false }).add(patterns);
  return {
    ignores: (rel) => matcher.ignores(rel),
    hasExceptions: patterns.some((p) => p.trim().startsWith('!')),
  };
}
