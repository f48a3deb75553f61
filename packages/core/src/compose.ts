// The compose model: what `docker compose config --format json` says the project is. Compose
// itself handles profiles, env files, `extends` and interpolation; prevu never reads the YAML.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { dockerExec, isDaemonDown } from './docker-cli.js';
import { readBuildIgnore } from './dockerignore.js';
import { EXPOSE_LABEL, exposeLabelPorts, H2C_APP_PROTOCOLS, H2C_LABEL, h2cLabelPorts } from './expose-label.js';
import type { UploadPlan } from './drivers/driver.js';
import { missingFromEnvFileTemplates, missingFromTemplates, unsetInterpolations, type MissingVariable } from './env-scan.js';
import { errors } from './errors.js';
import { AGENT_SERVICE, toLabelPart } from './names.js';

const portSchema = z.object({ target: z.coerce.number().int(), published: z.union([z.string(), z.number()]).optional(), app_protocol: z.string().optional() }).loose();
const volumeSchema = z.object({ type: z.string(), source: z.string().optional(), target: z.string() }).loose();

export const serviceSchema = z
  .object({
    image: z.string().optional(),
    build: z.object({ context: z.string(), dockerfile: z.string().optional() }).loose().optional(),
    ports: z.array(portSchema).optional(),
    expose: z.array(z.union([z.string(), z.number()])).optional(),
    volumes: z.array(volumeSchema).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    environment: z.record(z.string(), z.string().nullable()).optional(),
    healthcheck: z.object({}).loose().optional(),
    profiles: z.array(z.string()).optional(),
  })
  .loose();

const fileRefSchema = z.object({ file: z.string().optional() }).loose();

export const composeModelSchema = z
  .object({
    name: z.string(),
    services: z.record(z.string(), serviceSchema).default({}),
    networks: z.record(z.string(), z.object({}).loose().nullable()).optional(),
    volumes: z.record(z.string(), z.object({}).loose().nullable()).optional(),
    secrets: z.record(z.string(), fileRefSchema).optional(),
    configs: z.record(z.string(), fileRefSchema).optional(),
  })
  .loose();

export type ComposeService = z.infer<typeof serviceSchema>;
export type ComposeModel = z.infer<typeof composeModelSchema>;

export interface ComposeSource {
  /** Directory prevu runs in (compose's own default lookup starts there). */
  cwd: string;
  /** `-f` files as given (relative to cwd); empty: compose finds compose.yaml & co. itself. */
  files?: string[];
  projectDirectory?: string;
  /** Compose profiles (`--profile`). */
  profiles?: string[];
  /** Environment for the docker CLI (DOCKER_HOST of the machine is not needed: config is local). */
  env?: Record<string, string>;
  /** A project with only a Dockerfile: the port its service listens on (default: the image's EXPOSE). */
  dockerfilePort?: number;
}

export interface LoadedProject {
  model: ComposeModel;
  /** Absolute paths of the user's compose files (as compose found them). */
  files: string[];
  /** The arguments that select the same project again: -f, --project-directory, --profile. */
  args: string[];
  /** Variables the project expects and this run does not set (env-scan.ts). */
  missingEnv: MissingVariable[];
}

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** The `-f/--project-directory/--profile` arguments for a source, with absolute paths. */
export function sourceArgs(source: ComposeSource): { args: string[]; files: string[] } {
  // COMPOSE_FILE names the files when -f does not, as it does for compose itself
  const env = { ...process.env, ...source.env };
  const given = source.files?.length ? source.files : (env.COMPOSE_FILE?.split(env.COMPOSE_PATH_SEPARATOR || ':').filter(Boolean) ?? []);
  const files = given.map((f) => (isAbsolute(f) ? f : resolve(source.cwd, f)));
  const args: string[] = [];
  for (const f of files) args.push('-f', f);
  if (source.projectDirectory) args.push('--project-directory', resolve(source.cwd, source.projectDirectory));
  for (const p of source.profiles ?? []) args.push('--profile', p);
  return { args, files };
}

/**
 * Reads the project through `docker compose config --format json`. With `projectName`, the names
 * compose derives from it (the default network `<project>_default`, volumes) are the env's, as
 * they must be in a model written out for a machine: under the directory's name, two envs of one
 * checkout would share a network and reach each other's services by name.
 */
export async function loadComposeProject(source: ComposeSource, projectName?: string): Promise<LoadedProject> {
  const { args, files } = sourceArgs(source);
  // without -f, compose looks in the project directory (given) or here
  const lookIn = source.projectDirectory ? resolve(source.cwd, source.projectDirectory) : source.cwd;
  for (const f of files) if (!existsSync(f)) throw errors.noComposeFile(`${source.cwd} (${f} does not exist)`);
  if (!files.length && !DEFAULT_FILES.some((f) => existsSync(resolve(lookIn, f)))) {
    // compose also searches parent directories; prevu insists on the project being here or named.
    const synthesized = dockerfileProject(lookIn, source.dockerfilePort);
    if (!synthesized) throw errors.noComposeFile(lookIn);
    return loadComposeProject({ ...source, files: [synthesized] }, projectName);
  }
  if (source.dockerfilePort !== undefined && !files.some(isDockerfileProject)) throw errors.portWithCompose();
  const base = ['compose', ...(projectName ? ['-p', projectName] : []), ...args, 'config', '--format', 'json'];
  // uninterpolated, the model still names each service's env_file paths (env-scan.ts); run side by side
  const [result, raw] = await Promise.all([dockerExec(base, { cwd: source.cwd, env: source.env }), dockerExec([...base, '--no-interpolate'], { cwd: source.cwd, env: source.env })]);
  if (result.code !== 0) {
    const detail = result.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${result.code}`;
    if (/no configuration file provided/i.test(detail)) throw errors.noComposeFile(source.cwd);
    if (/is not a docker command|unknown command "compose"/i.test(detail)) throw errors.composeMissing();
    if (isDaemonDown(detail)) throw errors.dockerNotRunning(detail);
    throw errors.invalidCompose(detail);
  }
  let json: unknown;
  try {
    json = JSON.parse(result.stdout);
  } catch {
    throw errors.invalidCompose('`docker compose config --format json` did not print JSON');
  }
  const parsed = composeModelSchema.safeParse(json);
  if (!parsed.success) throw errors.invalidCompose(parsed.error.issues[0]?.message ?? 'unexpected model');
  const model = parsed.data;
  if (!Object.keys(model.services).length) throw errors.invalidCompose('it has no services');

  const foundFiles = files.length ? files : defaultFiles(lookIn);
  // one entry a name: what the compose files use first, then what only the template names
  const interpolated = unsetInterpolations(result.stderr);
  const missingEnv: MissingVariable[] = [];
  for (const m of [...interpolated, ...missingFromTemplates(lookIn, { ...process.env, ...source.env }), ...missingFromEnvFileTemplates(model, envFilesOf(raw.stdout), lookIn)]) {
    if (!missingEnv.some((known) => known.name === m.name)) missingEnv.push(m);
  }
  return { model, files: foundFiles, args, missingEnv };
}

const envFilesSchema = z.object({ services: z.record(z.string(), z.object({ env_file: z.array(z.object({ path: z.string() })).optional() })) });

/** service -> its env_file paths, from `config --no-interpolate --format json` (nothing when unreadable: the scan is advice). */
function envFilesOf(rawJson: string): Record<string, string[]> {
  let parsed;
  try {
    parsed = envFilesSchema.safeParse(JSON.parse(rawJson));
  } catch {
    return {};
  }
  if (!parsed.success) return {};
  return Object.fromEntries(Object.entries(parsed.data.services).map(([service, s]) => [service, (s.env_file ?? []).map((f) => f.path)]));
}

/**
 * Where the compose file of a Dockerfile-only project is written: the user's own cache (0700), not
 * a shared temp dir where another user could plant a link in its place.
 */
const dockerfileProjects = () => join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'prevu', 'dockerfile-projects');
const isDockerfileProject = (file: string) => dirname(file) === dockerfileProjects();

/**
 * A directory with a Dockerfile and no compose file is a project of one service, built from it and
 * named after the directory, its port the image's EXPOSE or `port`. Its compose file is written to
 * the user's cache (named by the directory and port), not the project, and read like any other.
 */
function dockerfileProject(dir: string, port?: number): string | undefined {
  if (!existsSync(join(dir, 'Dockerfile'))) return undefined;
  const name = toLabelPart(basename(dir)) || 'app';
  const service = { build: { context: dir }, ...(port !== undefined ? { expose: [String(port)] } : {}) };
  const file = join(dockerfileProjects(), `${createHash('sha256').update(`${dir}\0${port ?? ''}`).digest('hex').slice(0, 16)}.yaml`);
  mkdirSync(dockerfileProjects(), { recursive: true, mode: 0o700 });
  // JSON is YAML
  writeFileSync(file, JSON.stringify({ name, services: { [name]: service } }));
  return file;
}

/** The file compose picks by default, and its override file (compose merges both without -f). */
function defaultFiles(dir: string): string[] {
  const main = DEFAULT_FILES.map((f) => resolve(dir, f)).find((f) => existsSync(f));
  if (!main) return [];
  const override = main.replace(/\.(ya?ml)$/, '.override.$1');
  return existsSync(override) ? [main, override] : [main];
}

/**
 * Before `up` (not `down`: a bad label must never keep an env from being removed): `prevu.expose`
 * and `prevu.h2c` labels parse, every service name has a letter or digit, and no service takes the agent's name,
 * whose URL would be the agent's API.
 */
export function checkForUp(model: ComposeModel): void {
  for (const [name, service] of Object.entries(model.services)) {
    // Its URL's name (names.ts, forwardName) is the service's name as a label: nothing may be left of it.
    if (!toLabelPart(name)) throw errors.serviceNameInvalid(name);
    if (toLabelPart(name) === AGENT_SERVICE) throw errors.reservedService(name, AGENT_SERVICE);
    try {
      exposeLabelPorts(service.labels?.[EXPOSE_LABEL]);
      h2cLabelPorts(service.labels?.[H2C_LABEL]);
    } catch (error) {
      throw errors.exposeLabelInvalid(name, (error as Error).message);
    }
  }
}

/**
 * Ports of a service that get a URL: `expose`, `ports` targets and the image's EXPOSE (what the
 * agent sees as the container's ExposedPorts), unless the label `prevu.expose` says otherwise
 * ("false" hides the service, "80,443" picks ports).
 */
export function exposedPorts(service: ComposeService, imagePorts: number[] = []): number[] {
  // checked before `up` (checkForUp): it parses here
  const chosen = exposeLabelPorts(service.labels?.[EXPOSE_LABEL]);
  if (chosen) return chosen;
  const ports = new Set<number>(imagePorts);
  for (const p of service.ports ?? []) ports.add(p.target);
  for (const e of service.expose ?? []) {
    // expose entries may be "80", "8000-8002" or "80/tcp"
    const [range = ''] = String(e).split('/');
    const [from, to] = range.split('-').map(Number);
    if (from === undefined || !Number.isInteger(from)) continue;
    for (let p = from; p <= (to ?? from) && p - from < 100; p++) ports.add(p);
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * What the machine needs: build contexts and bind-mount sources (absolute, local paths). A context
 * that is only a context leaves out what its .dockerignore leaves out of the build; one that is
 * also mounted is sent whole, since the container sees all of it.
 */
export function uploadPlan(model: ComposeModel, services?: string[]): UploadPlan {
  const contexts = new Map<string, Set<string | undefined>>();
  const mounted = new Set<string>();
  for (const [name, service] of Object.entries(model.services)) {
    if (services && !services.includes(name)) continue;
    const context = service.build?.context;
    // A URL context (git, https) is fetched by the engine itself.
    if (context && isAbsolute(context)) contexts.set(context, (contexts.get(context) ?? new Set()).add(service.build?.dockerfile));
    for (const v of service.volumes ?? []) if (v.type === 'bind' && v.source && isAbsolute(v.source) && !isSystemPath(v.source)) mounted.add(v.source);
  }
  for (const ref of [...Object.values(model.secrets ?? {}), ...Object.values(model.configs ?? {})]) {
    if (ref.file && isAbsolute(ref.file)) mounted.add(ref.file);
  }
  const ignore: Record<string, string[]> = {};
  for (const [context, dockerfiles] of contexts) {
    if (mounted.has(context)) continue;
    // Builds of one context with other Dockerfiles may read other ignore files: only rules they
    // all share would be safe, so such a context is sent whole unless the rules are the same.
    const rules = new Set([...dockerfiles].map((dockerfile) => JSON.stringify(readBuildIgnore(context, dockerfile) ?? null)));
    const patterns = rules.size === 1 ? (JSON.parse([...rules][0]!) as string[] | null) : null;
    if (patterns) ignore[context] = patterns;
  }
  return { paths: [...new Set([...contexts.keys(), ...mounted])].sort(), ignore };
}

/** Bind mounts of host facilities (the docker socket, /proc ...) stay what they are on the machine. */
function isSystemPath(path: string): boolean {
  return /^\/(var\/run|run|proc|sys|dev|etc)(\/|$)/.test(path);
}

/** A copy of the model with every uploaded path replaced by its place on the machine. */
export function rewritePaths(model: ComposeModel, mapping: Map<string, string>): ComposeModel {
  const map = (path: string | undefined) => (path === undefined ? path : (mapping.get(path) ?? path));
  const copy = structuredClone(model);
  for (const service of Object.values(copy.services)) {
    // Build contexts stay local: the compose CLI reads them on this side and streams them to the
    // engine (DOCKER_HOST); a path on the machine would be "not found" here.
    for (const v of service.volumes ?? []) if (v.type === 'bind') v.source = map(v.source);
  }
  for (const ref of [...Object.values(copy.secrets ?? {}), ...Object.values(copy.configs ?? {})]) {
    if (ref.file) ref.file = map(ref.file);
  }
  return copy;
}

/** True when the mapping changes nothing (the local driver): compose can read the user's files as they are. */
export function isIdentity(mapping: Map<string, string>): boolean {
  return [...mapping].every(([from, to]) => from === to);
}

/**
 * Ports of a service that speak HTTP/2 in clear (gRPC): the `prevu.h2c` label when set, else the
 * `ports` whose compose `app_protocol` is `grpc` or `h2c`. The agent reads the label (the overlay
 * sets it from `app_protocol`, which containers do not carry).
 */
export function h2cPorts(service: ComposeService): number[] {
  // checked before `up` (checkForUp): it parses here
  if (service.labels?.[H2C_LABEL]?.trim()) return h2cLabelPorts(service.labels[H2C_LABEL]);
  const ports = (service.ports ?? []).filter((p) => p.app_protocol && H2C_APP_PROTOCOLS.has(p.app_protocol.toLowerCase())).map((p) => p.target);
  return [...new Set(ports)].sort((a, b) => a - b);
}
