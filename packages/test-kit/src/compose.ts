// A temporary compose project made from a template directory or inline files, with the run
// label on every service, network and volume (added by an overlay, read from `compose config`).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { docker } from './docker.js';
import { OWNER_LABEL, ownerLabel, runId, TEST_LABEL, uniqueName } from './run.js';

export interface ComposeProject {
  dir: string;
  name: string;
  /** Runs `docker compose` on the project (its files plus the label overlay). */
  compose(args: string[]): Promise<string>;
  down(): Promise<void>;
}

export interface ComposeProjectOptions {
  /** A directory to copy (e.g. a fixture), and/or files to write: relative path -> content. */
  template?: string;
  files?: Record<string, string>;
  name?: string;
  composeFile?: string;
}

export async function tempComposeProject(cleanup: Cleanup, options: ComposeProjectOptions): Promise<ComposeProject> {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-compose-'));
  if (options.template) cpSync(options.template, dir, { recursive: true });
  for (const [path, content] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  const name = options.name ?? uniqueName('pt');
  const userFile = options.composeFile ?? 'compose.yaml';
  const base = ['compose', '-p', name, '--project-directory', dir, '-f', join(dir, userFile)];

  const model = JSON.parse(await docker([...base, 'config', '--format', 'json'])) as {
    services?: Record<string, unknown>;
    networks?: Record<string, { external?: boolean }>;
    volumes?: Record<string, { external?: boolean }>;
  };
  const labels = { [TEST_LABEL]: runId, [OWNER_LABEL]: ownerLabel.slice(OWNER_LABEL.length + 1) };
  const owned = (m: Record<string, { external?: boolean }> = {}) =>
    Object.fromEntries(Object.entries(m).filter(([, v]) => !v.external).map(([k]) => [k, { labels }]));
  const overlay = {
    services: Object.fromEntries(Object.keys(model.services ?? {}).map((s) => [s, { labels }])),
    networks: { default: { labels }, ...owned(model.networks) },
    volumes: owned(model.volumes),
  };
  const overlayFile = join(dir, '.prevu-test-labels.json');
  writeFileSync(overlayFile, JSON.stringify(overlay));
  const args = [...base, '-f', overlayFile];

  const down = async () => {
    await docker([...args, 'down', '--volumes', '--remove-orphans', '--timeout', '1']);
  };
  cleanup.add(`compose project ${name}`, async () => {
    await down();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, name, compose: (more) => docker([...args, ...more]), down };
}
