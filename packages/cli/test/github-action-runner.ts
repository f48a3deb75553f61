// Runs a composite action.yml the way the GitHub Actions runner does, for the parts prevu's action
// uses: inputs with defaults, `${{ inputs.* }}` / `${{ github.* }}` / `${{ steps.*.outputs.* }}`
// expressions, `shell: bash` steps with their env, step outputs from $GITHUB_OUTPUT, and the
// action's outputs. An expression it does not know fails the run, so action.yml cannot quietly
// depend on something untested.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

interface Step {
  id?: string;
  shell?: string;
  run?: string;
  env?: Record<string, string>;
}

interface ActionFile {
  inputs?: Record<string, { default?: string; required?: boolean }>;
  outputs?: Record<string, { value: string }>;
  runs: { using: string; steps: Step[] };
}

const running = new Set<number>();

/** Kills the process groups of steps still running (a timed-out test leaves none behind). */
export function killRunningSteps(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  running.clear();
}

export interface ActionRun {
  code: number;
  output: string;
  outputs: Record<string, string>;
}

/** Reads `name=value` and `name<<DELIM ... DELIM` records of a $GITHUB_OUTPUT file. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      if (end < 0) throw new Error(`unterminated output ${heredoc[1]}`);
      out[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

export async function runCompositeAction(
  actionFile: string,
  options: { with: Record<string, string>; env: NodeJS.ProcessEnv; github: Record<string, string>; cwd: string },
): Promise<ActionRun> {
  const action = parse(readFileSync(actionFile, 'utf8')) as ActionFile;
  if (action.runs.using !== 'composite') throw new Error('only composite actions');
  const tmp = mkdtempSync(join(tmpdir(), 'prevu-action-'));
  const context: Record<string, Record<string, unknown>> = { github: options.github, inputs: {}, steps: {} };
  const evaluate = (text: string): string =>
    text.replace(/\$\{\{\s*([a-zA-Z0-9_.-]+)\s*\}\}/g, (_all, path: string) => {
      let value: unknown = context;
      for (const part of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[part];
      if (value === undefined) {
        if (path.startsWith('inputs.') && path.slice(7) in (action.inputs ?? {})) return '';
        // As on GitHub: an output a step that ran did not set is empty (`gc` sets no `url`, `up` no `removed`).
        const [, stepId] = /^steps\.([^.]+)\.outputs\.[^.]+$/.exec(path) ?? [];
        if (stepId && context.steps[stepId] !== undefined) return '';
        throw new Error(`action.yml uses \${{ ${path} }}, which this runner does not know`);
      }
      return String(value);
    });
  for (const name of Object.keys(options.with)) {
    if (!(name in (action.inputs ?? {}))) throw new Error(`input "${name}" is not declared in action.yml`);
  }
  for (const [name, input] of Object.entries(action.inputs ?? {})) {
    const given = options.with[name] ?? (input.default === undefined ? undefined : evaluate(input.default));
    if (given === undefined && input.required) throw new Error(`input "${name}" is required`);
    if (given !== undefined) context.inputs![name] = given;
  }
  let output = '';
  for (const [index, step] of action.runs.steps.entries()) {
    if (step.shell !== 'bash' || step.run === undefined) throw new Error(`step ${index}: only \`shell: bash\` run steps`);
    const outputFile = join(tmp, `output-${index}`);
    writeFileSync(outputFile, '');
    const script = join(tmp, `step-${index}.sh`);
    writeFileSync(script, evaluate(step.run));
    const env: NodeJS.ProcessEnv = { ...options.env, GITHUB_OUTPUT: outputFile, GITHUB_ACTION_PATH: options.github.action_path };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = evaluate(String(v));
    // GitHub's bash invocation for `shell: bash`.
    // Its own process group, so killRunningSteps reaches the CLI processes under bash too.
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.add(child.pid!);
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    running.delete(child.pid!);
    if (step.id) context.steps![step.id] = { outputs: parseOutputFile(readFileSync(outputFile, 'utf8')) };
    if (code !== 0) return { code, output, outputs: {} };
  }
  const outputs: Record<string, string> = {};
  for (const [name, def] of Object.entries(action.outputs ?? {})) outputs[name] = evaluate(def.value);
  return { code: 0, output, outputs };
}
