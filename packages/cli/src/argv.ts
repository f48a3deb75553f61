// `prevu --profile work up` reads as naturally as `prevu up --profile work`, but oclif finds the
// command only in the first words: global flags given before it are moved behind it.

/** The global flags (see base.ts) and whether each takes a value. */
const GLOBAL_FLAGS = new Map([
  ['--profile', true],
  ['--json', false],
  ['--debug', false],
]);

export function hoistGlobalFlags(argv: string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const [name, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const takesValue = GLOBAL_FLAGS.get(name);
    if (takesValue === undefined) break;
    const width = takesValue && inline === undefined ? 2 : 1;
    // `prevu --profile` alone: left for oclif to explain.
    if (i + width > argv.length) break;
    leading.push(...argv.slice(i, i + width));
    i += width;
  }
  if (leading.length === 0 || i === argv.length) return argv;
  const rest = argv.slice(i);
  // Flags after `--` would be taken as arguments: they go before it.
  const end = rest.indexOf('--');
  return end === -1 ? [...rest, ...leading] : [...rest.slice(0, end), ...leading, ...rest.slice(end)];
}
