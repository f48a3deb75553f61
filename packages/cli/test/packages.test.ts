// What the packages promise a user who installs them, checked on the files `npm pack` would ship
// (after `npm run build`): one version for all, dependencies between them pinned to it, every
// import of a shipped file declared, and every image build context complete.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { AGENT_IMAGE, TUNNEL_SERVER_IMAGE } from '@prevu/core/artifacts';
import { describe, expect, it } from 'vitest';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const root = resolve(import.meta.dirname, '..', '..', '..');
const dirs = readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d));
const manifests = new Map(dirs.map((dir) => [dir, JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest]));
const names = new Set([...manifests.values()].map((m) => m.name));
const published = [...manifests].filter(([, m]) => !m.private);

const packedFiles = new Map<string, string[]>();

/** The files `npm pack` puts in the package's tarball. */
function packed(dir: string): string[] {
  const known = packedFiles.get(dir);
  if (known) return known;
  const [report] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { files: { path: string }[] }[];
  const files = report!.files.map((f) => f.path);
  packedFiles.set(dir, files);
  return files;
}

/** The package a static or dynamic import names (`@scope/name/sub` -> `@scope/name`). */
function importedPackages(code: string): string[] {
  const specifiers = [...code.matchAll(/(?:^|[\s;}])(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
  return specifiers.filter((s) => !s.startsWith('.')).map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2) : s.split('/').slice(0, 1)).join('/'));
}

const builtin = (name: string) => name.startsWith('node:') || builtinModules.includes(name);

describe('the packages', () => {
  it('all have one version, and depend on each other at exactly that version', () => {
    const versions = new Set([...manifests.values()].map((m) => m.version));
    expect([...versions]).toHaveLength(1);
    const [version] = versions;
    for (const m of manifests.values()) {
      for (const [name, range] of Object.entries({ ...m.dependencies, ...m.devDependencies })) {
        if (names.has(name)) expect(`${m.name} -> ${name}@${range}`).toBe(`${m.name} -> ${name}@${version}`);
      }
    }
  });

  it.each(published.map(([dir, m]) => [m.name, dir] as const))('%s: every import of a shipped file is a built-in module or a declared dependency', (name, dir) => {
    const files = packed(dir).filter((f) => /\.(m?js)$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    const declared = new Set([name, ...Object.keys(manifests.get(dir)!.dependencies ?? {})]);
    const undeclared = new Set<string>();
    for (const file of files) {
      for (const pkg of importedPackages(readFileSync(join(dir, file), 'utf8'))) if (!builtin(pkg) && !declared.has(pkg)) undeclared.add(`${file}: ${pkg}`);
    }
    expect([...undeclared]).toEqual([]);
  });

  it.each([AGENT_IMAGE, TUNNEL_SERVER_IMAGE].map((image) => [image.pkg, image] as const))('%s ships its image build context: the files the tag hashes and every COPY source', (pkg, image) => {
    const dir = [...manifests].find(([, m]) => m.name === pkg)![0];
    const files = packed(dir);
    const copied = [...readFileSync(join(dir, 'Dockerfile'), 'utf8').matchAll(/^COPY\s+(\S+)\s+\S+$/gm)].map((m) => m[1]!);
    expect(copied.length).toBeGreaterThan(0);
    expect(files).toEqual(expect.arrayContaining([...image.files, ...copied, '.dockerignore']));
    expect(manifests.get(join(root, 'packages', 'core'))!.dependencies).toHaveProperty(pkg);
  });
});
