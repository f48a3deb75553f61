// The env id of a deploy: `--id` when given, else `pr-<number>` in a pull/merge request CI run
// (ci/detect.ts), else `<compose project>-<git branch>`.
// CI checkouts are often on a detached HEAD: the branch then comes from the CI's variables.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ciEnvId, detectCi } from './ci/detect.js';
import { defaultEnvId, InvalidNameError, normalizeEnvId } from './names.js';
import { errors } from './errors.js';

const execFileAsync = promisify(execFile);

/** The current git branch of `dir`, else the CI's (a detached checkout), else undefined. */
export async function gitBranch(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  try {
    // symbolic-ref also names the branch of a repository without commits; it fails when detached
    const { stdout } = await execFileAsync('git', ['symbolic-ref', '--short', '-q', 'HEAD'], { cwd: dir, env });
    if (stdout.trim()) return stdout.trim();
  } catch {
    // not a git work tree (or no git): fall through
  }
  // BRANCH_NAME: Jenkins multibranch (and Cloud Build), whose checkouts are detached too.
  return detectCi(env).branch ?? (env.BRANCH_NAME?.trim() || undefined);
}

/** The env id a user gave (--id, the Action's `id:`), normalized; one without letters or digits is envIdInvalid. */
export function envIdOf(id: string): string {
  try {
    return normalizeEnvId(id);
  } catch (error) {
    if (error instanceof InvalidNameError) throw errors.envIdInvalid(id);
    throw error;
  }
}

export async function resolveEnvId(options: { id?: string; project: string; dir: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  if (options.id !== undefined) return envIdOf(options.id);
  try {
    const fromCi = ciEnvId(detectCi(options.env ?? process.env));
    if (fromCi) return fromCi;
    return defaultEnvId(options.project, await gitBranch(options.dir, options.env));
  } catch (error) {
    if (error instanceof InvalidNameError) throw errors.envIdInvalid(options.project);
    throw error;
  }
}
