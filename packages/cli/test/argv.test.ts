import { describe, expect, it } from 'vitest';
import { hoistGlobalFlags } from '../src/argv.js';

describe('global flags before the command', () => {
  it('are moved behind the command words, values and `=` forms kept', () => {
    expect(hoistGlobalFlags(['--profile', 'work', 'up', '--id', 'x'])).toEqual(['up', '--id', 'x', '--profile', 'work']);
    expect(hoistGlobalFlags(['--json', '--profile=work', '--debug', 'profile', 'ls'])).toEqual(['profile', 'ls', '--json', '--profile=work', '--debug']);
  });

  it('stay before `--`, and leave every other argv as it is', () => {
    expect(hoistGlobalFlags(['--debug', 'up', 'web', '--', '--json'])).toEqual(['up', 'web', '--debug', '--', '--json']);
    for (const argv of [['up', '--profile', 'work'], ['--help'], ['--version'], ['--profile'], ['--profile', 'work'], ['--id', 'x', 'up'], []]) {
      expect(hoistGlobalFlags(argv)).toEqual(argv);
    }
  });
});
