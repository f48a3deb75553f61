// The GitHub Action's side of prevu: its inputs (INPUT_* variables, validated), the profile it
// materializes from the `profile` input and the account-key secret, the prevu command line it runs,
// and the step outputs it writes to $GITHUB_OUTPUT.
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { parse } from 'shell-quote';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { errors } from '../errors.js';
import { ProfileStore, profileSchema, type Profile } from '../profiles.js';
import { HOST_KEY_PIN, HOST_KEY_PIN_HINT } from '../ssh-fingerprint.js';
import { publicKeyOf } from '../ssh-keys.js';
import { importProfile } from '../store/shared-profile.js';
import { isStoreUrl } from '../store/store-url.js';
import type { PreviewUrl } from './markdown.js';
import type { StatusKind } from './report.js';

const flag = z
  .enum(['true', 'false', ''])
  .transform((v) => v === 'true')
  .optional();

export const actionInputsSchema = z.object({
  command: z.enum(['up', 'down', 'gc']),
  profile: z.string().optional(),
  'account-key': z.string().optional(),
  driver: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be a driver name like local, ssh or lightsail').optional(),
  // A CI runner starts empty: without a pin, "recorded on first use" means "never checked".
  'ssh-host-key': z.string().regex(HOST_KEY_PIN, HOST_KEY_PIN_HINT).optional(),
  'tunnel-server-host-key': z.string().regex(HOST_KEY_PIN, HOST_KEY_PIN_HINT).optional(),
  id: z.string().optional(),
  args: z.string().default(''),
  'github-token': z.string().optional(),
  comment: flag,
  status: z.enum(['deployment', 'commit', 'none']).optional(),
  strict: flag,
});

export type ActionInputs = z.infer<typeof actionInputsSchema>;

/** GitHub's spelling INPUT_<NAME> keeps dashes; a composite step can only export underscores: read both. */
export function readActionInputs(env: Record<string, string | undefined> = process.env): ActionInputs {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(actionInputsSchema.shape)) {
    const upper = key.toUpperCase();
    const value = env[`INPUT_${upper.replace(/-/g, '_')}`] ?? env[`INPUT_${upper}`];
    if (value !== undefined && value.trim() !== '') raw[key] = value.trim();
  }
  const parsed = actionInputsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'inputs');
    const got = raw[name];
    throw errors.actionInputInvalid(name, got === undefined ? 'is missing' : `is invalid ("${got}")`, issue.message);
  }
  return parsed.data;
}

/**
 * Splits the `args` input like a shell would (quotes, backslashes), with shell-quote and without
 * running a shell: `$VAR` stays as written, and shell syntax (`;`, `|`, `$(...)`, redirections)
 * is refused rather than passed on as words.
 */
export function splitArgs(text: string): string[] {
  // shell-quote reads an unclosed quote to the end; a shell would not run it at all.
  const open = /["']/.exec(text.replace(/\\./g, '').replace(/"[^"]*"|'[^']*'/g, ''))?.[0];
  if (open) throw errors.actionArgsUnclosedQuote(open);
  return parse(text, (name) => `$${name}`).map((entry) => {
    if (typeof entry === 'string') return entry;
    if ('pattern' in entry) return entry.pattern; // no shell expands a glob here: the word as written
    const what = 'comment' in entry ? `#${entry.comment}` : entry.op;
    throw errors.actionArgsShellSyntax(what);
  });
}

/**
 * Writes the profile from the `profile` input (profile.json contents, JSON or YAML, a path to
 * it, or the s3:// URL of a store that holds it) and the account key into the profile store, and
 * returns its name; the name of a profile
 * that already exists on the runner is used as it is. Without a `profile`
 * input the default profile is used (driver `local`, embedded tunnel server).
 */
export async function materializeProfile(inputs: ActionInputs, store = new ProfileStore()): Promise<string | undefined> {
  if (!inputs.profile) {
    if (inputs['account-key']) throw errors.actionAccountKeyWithoutProfile();
    return undefined;
  }
  // s3://bucket/prefix: the profile shared through a store, with its envs' state (store/)
  if (isStoreUrl(inputs.profile)) {
    const key = inputs['account-key'] ?? process.env.PREVU_ACCOUNT_KEY;
    const shared = await importProfile(store, inputs.profile, key ? { privateKey: key } : {});
    const profile = pinHostKeys(inputs.driver ? { ...shared, driver: inputs.driver } : shared, inputs);
    store.write(profile);
    return profile.name;
  }
  // A self-hosted runner may keep its profiles: a bare name of an existing one is used as it is.
  if (store.exists(inputs.profile) && !existsSync(inputs.profile)) {
    if (inputs.driver || inputs['account-key'] || inputs['ssh-host-key'] || inputs['tunnel-server-host-key']) {
      throw errors.actionProfileExists(inputs.profile);
    }
    return inputs.profile;
  }
  const text = existsSync(inputs.profile) ? readFileSync(inputs.profile, 'utf8') : inputs.profile;
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch {
    data = undefined;
  }
  if (typeof data !== 'object' || data === null) {
    throw errors.actionProfileUnreadable();
  }
  const merged = { ...(data as Record<string, unknown>), ...(inputs.driver ? { driver: inputs.driver } : {}) };
  const parsed = profileSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw errors.actionProfileInvalid(`${issue.path.join('.') || 'profile'}: ${issue.message}`);
  }
  const profile: Profile = pinHostKeys(parsed.data, inputs);
  const key = inputs['account-key'] ?? process.env.PREVU_ACCOUNT_KEY;
  if (!key) throw errors.actionAccountKeyMissing(profile.name);
  const publicKey = publicKeyOf(key);
  if (!publicKey) throw errors.actionAccountKeyInvalid();
  store.writeKey(profile.name, key, publicKey);
  store.write(profile);
  return profile.name;
}

/** The host-key inputs pin keys in the profile; each needs the profile part it pins. */
function pinHostKeys(profile: Profile, inputs: ActionInputs): Profile {
  const ssh = inputs['ssh-host-key'];
  const tunnel = inputs['tunnel-server-host-key'];
  if (ssh && profile.driver !== 'ssh') throw errors.actionSshPinUnused(profile.name, profile.driver);
  if (tunnel && profile.tunnelServer.type !== 'remote') throw errors.actionTunnelPinUnused(profile.name);
  return {
    ...profile,
    ...(ssh ? { driverOptions: { ...profile.driverOptions, hostKey: ssh } } : {}),
    ...(tunnel && profile.tunnelServer.type === 'remote' ? { tunnelServer: { ...profile.tunnelServer, hostKey: tunnel, hostKeyPinned: true } } : {}),
  };
}

export interface ActionPlan {
  /** Arguments after `prevu`. */
  argv: string[];
  /** Known before the run in a pull request or from the id input; else `up` reports the one it chose. */
  envId?: string;
  profile?: string;
  report: { comment: boolean; status: StatusKind; strict: boolean };
}

export function planAction(inputs: ActionInputs, envId: string | undefined, profile: string | undefined): ActionPlan {
  if (!envId && inputs.command === 'down') {
    throw errors.actionNoEnvId();
  }
  // gc (a scheduled workflow) is about every env of the profile, never one id.
  const id = inputs.command === 'gc' ? undefined : envId;
  const argv = [inputs.command, '--json', ...(id ? ['--id', id] : []), ...(profile ? ['--profile', profile] : []), ...splitArgs(inputs.args)];
  return {
    argv,
    ...(id ? { envId: id } : {}),
    profile,
    report: { comment: inputs.comment ?? true, status: inputs.status ?? 'deployment', strict: inputs.strict ?? false },
  };
}

/** Step outputs in GitHub's file format, with a random delimiter so no value can end it early. */
export function writeStepOutputs(outputs: Record<string, string>, path: string | undefined = process.env.GITHUB_OUTPUT): void {
  if (!path) return;
  for (const [name, value] of Object.entries(outputs)) {
    const delimiter = `ghadelimiter_${randomUUID()}`;
    appendFileSync(path, `${name}<<${delimiter}\n${value}\n${delimiter}\n`);
  }
}

/** The action's outputs: every URL as JSON, and the first service's URL alone. */
export function actionOutputs(urls: PreviewUrl[]): Record<string, string> {
  return { urls: JSON.stringify(urls), url: urls[0]?.url ?? '' };
}
