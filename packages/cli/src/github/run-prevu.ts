// The action runs prevu itself as a child process (`prevu up --json ...`): the deploy is exactly
// what a user gets from the CLI, its progress goes to the job log, and its JSON result is read back.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface PrevuRun {
  code: number;
  stdout: string;
}

/** Runs this CLI's own bin with `argv`; stderr (progress, errors) passes through to the log. */
export function runPrevu(cliRoot: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<PrevuRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(cliRoot, 'bin', 'run.js'), ...argv], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      // Shown in the job log too, on stderr so this command's own stdout stays its result.
      process.stderr.write(chunk);
    });
    child.once('error', reject);
    // Ctrl-C / job cancellation reaches the child through the process group; report it as such.
    child.once('exit', (code, signal) => resolve({ code: code ?? (signal === 'SIGINT' ? 130 : 1), stdout }));
  });
}

/** Warnings as GitHub workflow commands inside Actions (annotations on the run), plain lines elsewhere. */
export function warningLine(line: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.GITHUB_ACTIONS === 'true') return `::warning title=prevu::${line.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}`;
  return `warning: ${line}`;
}
