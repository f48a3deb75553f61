// An unknown command is a user's mistake: one line, exit 1, and the nearest command when the word
// looks like a typo of one (oclif's own answer is a boxed "Error: command x not found", exit 2).
import type { Hook } from '@oclif/core';
import { ExitCode } from '@prevu/core/errors';

/** Edit distance, for "did you mean". Command ids are short: the quadratic table is tiny. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

const hook: Hook<'command_not_found'> = async function ({ id, config }) {
  const typed = id.replace(/:/g, ' ');
  const ids = config.commands.filter((c) => !c.hidden).map((c) => c.id.replace(/:/g, ' '));
  const nearest = ids.map((c) => ({ c, d: distance(typed, c) })).sort((x, y) => x.d - y.d)[0];
  // `prevu down extra`: oclif looks for a command `down extra`; the user gave `down` an argument it
  // does not take (unless the words are a typo of a longer command).
  const command = ids.filter((c) => typed.startsWith(`${c} `)).sort((x, y) => y.length - x.length)[0];
  if (command && (!nearest || nearest.d > 2 || nearest.c === command)) {
    process.stderr.write(`prevu: \`prevu ${command}\` takes no argument "${typed.slice(command.length + 1)}": see \`prevu ${command} --help\`\n`);
    return this.exit(ExitCode.user);
  }
  const hint = nearest && nearest.d <= 2 ? `did you mean \`prevu ${nearest.c}\`? (\`prevu --help\` lists the commands)` : '`prevu --help` lists the commands';
  process.stderr.write(`prevu: unknown command "${typed}": ${hint}\n`);
  this.exit(ExitCode.user);
};

export default hook;
