#!/usr/bin/env node
// `npm run set-version -- <version>`: the one version every package has (they ship together, and
// the agent and tunnel server speak a protocol that must match the CLI's), written into each
// package and into every dependency between them. packages/cli/test/packages.test.ts holds the rule.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const version = process.argv[2] ?? '';
if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
  console.error(`set-version: "${version}" is not a version like 0.2.0: npm run set-version -- 0.2.0`);
  process.exit(1);
}
const packages = resolve(import.meta.dirname, '..', 'packages');
const files = readdirSync(packages).map((dir) => join(packages, dir, 'package.json'));
const names = new Set(files.map((file) => JSON.parse(readFileSync(file, 'utf8')).name));
for (const file of files) {
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  pkg.version = version;
  for (const deps of [pkg.dependencies, pkg.devDependencies]) {
    for (const name of Object.keys(deps ?? {})) if (names.has(name)) deps[name] = version;
  }
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
}
console.log(`${files.length} packages at ${version}; now run npm install to update package-lock.json`);
