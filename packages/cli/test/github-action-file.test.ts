// action.yml against GitHub's action metadata schema, and the docs' example workflow against
// action.yml: it uses this action, only with inputs the action declares, on the right events.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const action = parse(readFileSync(join(root, 'action.yml'), 'utf8')) as unknown;

// GitHub's metadata syntax for actions (docs: "Metadata syntax for GitHub Actions").
const inputSchema = z.strictObject({
  description: z.string().min(1),
  required: z.boolean().optional(),
  default: z.string().optional(),
  deprecationMessage: z.string().optional(),
});
const runStep = z.strictObject({
  id: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/).optional(),
  name: z.string().optional(),
  if: z.string().optional(),
  run: z.string().min(1),
  shell: z.string().min(1), // required for run steps of a composite action
  env: z.record(z.string(), z.string()).optional(),
  'working-directory': z.string().optional(),
  'continue-on-error': z.union([z.boolean(), z.string()]).optional(),
});
const usesStep = z.strictObject({
  id: z.string().optional(),
  name: z.string().optional(),
  if: z.string().optional(),
  uses: z.string().min(1),
  with: z.record(z.string(), z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  'continue-on-error': z.union([z.boolean(), z.string()]).optional(),
});
const actionSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().min(1),
  author: z.string().optional(),
  branding: z.strictObject({ icon: z.string(), color: z.enum(['white', 'black', 'yellow', 'blue', 'green', 'orange', 'red', 'purple', 'gray-dark']) }).optional(),
  inputs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/), inputSchema).optional(),
  outputs: z.record(z.string(), z.strictObject({ description: z.string().min(1), value: z.string().min(1) })).optional(),
  runs: z.discriminatedUnion('using', [
    z.strictObject({ using: z.literal('composite'), steps: z.array(z.union([runStep, usesStep])).min(1) }),
    z.strictObject({ using: z.enum(['node20', 'node24']), main: z.string().min(1), pre: z.string().optional(), post: z.string().optional() }),
  ]),
});

describe('action.yml', () => {
  it('follows the action metadata schema', () => {
    const parsed = actionSchema.safeParse(action);
    expect(parsed.success ? 'valid' : parsed.error.issues).toBe('valid');
  });

  it('declares the inputs and outputs prevu documents, and passes every input to the entry', () => {
    const a = actionSchema.parse(action);
    expect(Object.keys(a.inputs ?? {})).toEqual(expect.arrayContaining(['command', 'profile', 'driver', 'id', 'args', 'github-token', 'account-key']));
    expect(Object.keys(a.outputs ?? {}).sort()).toEqual(['removed', 'url', 'urls']);
    expect(a.inputs?.command).toMatchObject({ required: true, default: 'up' });
    const steps = a.runs.using === 'composite' ? a.runs.steps : [];
    const entry = steps.find((s) => 'run' in s && s.run.includes('github action'));
    expect(entry).toBeDefined();
    const env = (entry as z.infer<typeof runStep>).env ?? {};
    for (const name of Object.keys(a.inputs ?? {}).filter((n) => n !== 'prevu')) {
      expect(env[`INPUT_${name.toUpperCase().replace(/-/g, '_')}`]).toBe(`\${{ inputs.${name} }}`);
    }
    // No expression inside the script itself: inputs reach bash only as environment variables.
    expect((entry as z.infer<typeof runStep>).run).not.toContain('${{');
    for (const output of Object.values(a.outputs ?? {})) expect(output.value).toMatch(new RegExp(`^\\$\\{\\{ steps\\.${(entry as { id: string }).id}\\.outputs\\.[a-z]+ \\}\\}$`));
  });
});

describe('the documented example workflow', () => {
  const doc = readFileSync(join(root, 'site/docs/github-action.md'), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, unknown>);
  const workflow = blocks.find((b) => 'jobs' in b) as {
    on: { pull_request: { types: string[] } };
    permissions: Record<string, string>;
    jobs: Record<string, { if?: string; steps: { uses?: string; with?: Record<string, string> }[] }>;
  };
  const a = actionSchema.parse(action);
  const prevuSteps = Object.entries(workflow?.jobs ?? {}).flatMap(([job, j]) => j.steps.filter((s) => /(^|\/)prevu@/.test(s.uses ?? '')).map((s) => ({ job, ...s })));

  it('uses this action, with declared inputs only, and sets the command and the key', () => {
    expect(workflow).toBeDefined();
    expect(prevuSteps.map((s) => s.with?.command).sort()).toEqual(['down', 'up']);
    // GitHub does not enforce `required`: an input marked so needs a default, or a step that
    // leaves it out runs with an empty value.
    expect(Object.entries(a.inputs ?? {}).filter(([, input]) => input.required && input.default === undefined).map(([name]) => name)).toEqual([]);
    for (const step of prevuSteps) {
      expect(Object.keys(a.inputs ?? {})).toEqual(expect.arrayContaining(Object.keys(step.with ?? {})));
      expect(step.with).toHaveProperty('account-key');
    }
  });

  it('runs up on opened/synchronize and down on closed, with the permissions the action needs', () => {
    expect(workflow.on.pull_request.types).toEqual(expect.arrayContaining(['opened', 'synchronize', 'closed']));
    expect(workflow.permissions).toMatchObject({ 'pull-requests': 'write', deployments: 'write' });
    const up = prevuSteps.find((s) => s.with?.command === 'up')!;
    const down = prevuSteps.find((s) => s.with?.command === 'down')!;
    expect(workflow.jobs[up.job]!.if).toBe("github.event.action != 'closed'");
    expect(workflow.jobs[down.job]!.if).toBe("github.event.action == 'closed'");
    // Secrets stay secrets: the key comes from one, never inline.
    for (const step of prevuSteps) expect(step.with?.['account-key']).toMatch(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/);
  });
});
