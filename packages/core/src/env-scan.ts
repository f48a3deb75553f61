// Variables a project expects and this run does not set, found before anything is deployed:
// `${VAR}` without a default in the compose files (compose itself says which, as it resolves
// them), the keys of the project's `.env.example` that neither the environment nor `.env` set, and
// the keys of a service's env_file template (`<env_file>.example`) its environment lacks.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'dotenv';
import type { ComposeModel } from './compose.js';

export interface MissingVariable {
  name: string;
  /** Who expects it, for people: `${NAME} in the compose files`, `.env.example`. */
  expectedBy: string;
}

/** A variable prevu itself sets in every service and for interpolation (overlay.ts `discoveryEnv`). */
export function isDiscoveryVariable(name: string): boolean {
  return /^PREVU_(ENV_ID|URL_\w+)$/.test(name);
}

/** Compose's own warnings while it resolved the files: `The "X" variable is not set...`. */
export function unsetInterpolations(composeStderr: string): MissingVariable[] {
  const names = new Set([...composeStderr.matchAll(/The \\?"(\w+)\\?" variable is not set/g)].map((m) => m[1]!).filter((name) => !isDiscoveryVariable(name)));
  return [...names].sort().map((name) => ({ name, expectedBy: `\${${name}} in the compose files, without a default` }));
}

/** Keys of `.env.example` in the project directory that neither `.env` there nor `env` sets. */
export function missingFromTemplates(projectDir: string, env: NodeJS.ProcessEnv): MissingVariable[] {
  const template = join(projectDir, '.env.example');
  if (!existsSync(template)) return [];
  const dotenv = join(projectDir, '.env');
  const set = existsSync(dotenv) ? parse(readFileSync(dotenv)) : {};
  return Object.keys(parse(readFileSync(template)))
    .filter((name) => env[name] === undefined && set[name] === undefined)
    .map((name) => ({ name, expectedBy: '.env.example' }));
}

/**
 * Keys of each env_file's template (`app.env` -> `app.env.example`) that the service's environment,
 * as compose resolved it (env_file and `environment` merged), does not have. `envFiles` are the
 * paths compose reports without interpolating (service -> env_file paths): the resolved model
 * inlines env_file into `environment` and keeps no path.
 */
export function missingFromEnvFileTemplates(model: ComposeModel, envFiles: Record<string, string[]>, projectDir: string): MissingVariable[] {
  const missing: MissingVariable[] = [];
  for (const [service, paths] of Object.entries(envFiles)) {
    const environment = model.services[service]?.environment ?? {};
    for (const template of paths.map((p) => `${p}.example`).filter((t) => existsSync(t))) {
      for (const name of Object.keys(parse(readFileSync(template)))) {
        if (environment[name] === undefined && !missing.some((m) => m.name === name)) missing.push({ name, expectedBy: `${relative(projectDir, template)} (env_file of ${service})` });
      }
    }
  }
  return missing;
}

export interface KeyComparison {
  /** Keys the services' environment has (as compose resolves it) and the file lacks. */
  missingInFile: string[];
  /** Keys the file sets and no service's environment uses. */
  unusedInProject: string[];
}

/** `prevu config check --against <file>`: the project's environment keys against a dotenv file's. */
export function compareKeys(model: ComposeModel, dotenvText: string): KeyComparison {
  const project = new Set(Object.values(model.services).flatMap((s) => Object.keys(s.environment ?? {})).filter((k) => !isDiscoveryVariable(k)));
  const file = new Set(Object.keys(parse(dotenvText)));
  return {
    missingInFile: [...project].filter((k) => !file.has(k)).sort(),
    unusedInProject: [...file].filter((k) => !project.has(k)).sort(),
  };
}
