// Regenerates the command sections of site/docs/cli.md from the built CLI's own `--help`
// (`npx tsc -b packages/cli` first), keeping the hand-written text before the first section.
// `node site/cli-reference.mjs` writes the page; `--check` only says whether it is current (exit 1 if not).
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeOrCheck } from './generated-page.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const page = join(root, 'site', 'docs', 'cli.md');
const commandsDir = join(root, 'packages', 'cli', 'src', 'commands');
/** Reading order; commands not listed follow alphabetically. */
const ORDER = ['', 'up', 'down', 'urls', 'status', 'logs', 'ls', 'doctor', 'purge', 'init', 'profile create', 'profile ls', 'profile use', 'profile rm', 'server start', 'server stop', 'server status', 'github action', 'github report'];

const found = readdirSync(commandsDir, { recursive: true })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.replace(/\.ts$/, '').split(/[\\/]/).join(' '));
const rank = (c) => (ORDER.includes(c) ? ORDER.indexOf(c) : ORDER.length);
const commands = ['', ...found].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

const help = async (command) => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'packages', 'cli', 'bin', 'run.js'), ...(command ? command.split(' ') : []), '--help'], { env: { ...process.env, COLUMNS: '80' } });
  // The version line names this machine's platform and Node: the page must not depend on them.
  return stdout.replace(/[ \t]+$/gm, '').replace(/^(\s+@prevu\/cli\/\S+) \S+ node-v\S+$/m, '$1').trimEnd();
};
const sections = await Promise.all(commands.map(async (c) => `## prevu${c ? ` ${c}` : ''}\n\n\`\`\`\n${await help(c)}\n\`\`\`\n`));

writeOrCheck({ page, heading: '## prevu', sections, what: 'commands', stale: 'the CLI --help output: run `node site/cli-reference.mjs` after `npx tsc -b packages/cli`' });
