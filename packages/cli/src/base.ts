// The base of every command: the global flags (--profile, --debug, and --json from
// enableJsonFlag), the profile session, Ctrl-C as an AbortSignal, and errors printed as ONE line
// with the exit code of their kind (0 ok, 1 user, 2 environment, 130 Ctrl-C).
import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { InterruptedError } from '@prevu/core/docker-cli';
import type { Session } from '@prevu/core/session';
import { errors, ExitCode, isPrevuError } from '@prevu/core/errors';
import type { PrevuEvent } from '@prevu/core/events';
import { hostsFileEntries } from '@prevu/core/localhost-lookup';
import { configDir, ProfileStore } from '@prevu/core/profiles';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof PrevuCommand)['baseFlags'] & T['flags']>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

export abstract class PrevuCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    profile: Flags.string({ description: 'profile to use (default: the current one, or `local` with the embedded tunnel server)', env: 'PREVU_PROFILE', helpGroup: 'GLOBAL' }),
    debug: Flags.boolean({ description: 'print progress details and stack traces', helpGroup: 'GLOBAL' }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  /** Positional arguments (for commands with `strict = false`, e.g. `up web api`). */
  protected rest: string[] = [];
  protected readonly abort = new AbortController();
  protected store = new ProfileStore(configDir());
  private interrupts = 0;

  public override async init(): Promise<void> {
    await super.init();
    const { args, flags, argv } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof PrevuCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    this.rest = argv.map(String);
    hostsFileEntries(); // a bad PREVU_HOSTS_FILE is one line now, not a failed lookup later
    process.on('SIGINT', this.onInterrupt);
    process.on('SIGTERM', this.onInterrupt);
  }

  private readonly onInterrupt = () => {
    // first Ctrl-C: stop cleanly (children get it too); second: leave now
    if (++this.interrupts > 1) process.exit(ExitCode.interrupted);
    this.abort.abort();
  };

  /** The profile session: the profile (`local` is made on first use), its key, Ctrl-C. */
  protected session(onEvent?: (event: PrevuEvent) => void): Session {
    const profile = this.store.resolve(this.flags.profile);
    return { store: this.store, profile, key: this.store.key(profile.name), signal: this.abort.signal, ...(onEvent ? { onEvent } : {}) };
  }

  /** One JSON document per line: events stream before the final result. */
  public override logJson(json: unknown): void {
    // Command.log is silent under --json: write the line directly.
    process.stdout.write(`${JSON.stringify(json)}\n`);
  }

  protected trace(line: string): void {
    if (this.flags?.debug) process.stderr.write(`${line}\n`);
  }

  protected override async catch(error: Error & { exitCode?: number }): Promise<never> {
    if (error instanceof Errors.ExitError) throw error;
    const json = this.jsonEnabled();
    if (error instanceof InterruptedError || (this.abort.signal.aborted && !isPrevuError(error))) {
      process.stderr.write(`interrupted: ${this.interruptHint()}\n`);
      if (json) this.logJson({ error: { code: errors.interrupted.code, message: 'interrupted' } });
      this.exit(ExitCode.interrupted);
    }
    if (isPrevuError(error)) {
      if (this.flags?.debug && error.stack) process.stderr.write(`${error.stack}\n`);
      process.stderr.write(`prevu: ${error.line}\n`);
      if (json) this.logJson({ error: { code: error.code, message: error.message, fix: error.fix } });
      this.exit(error.exitCode);
    }
    // oclif's own parse errors (unknown flag, missing argument) are user errors
    const oclif = (error as { oclif?: { exit?: number } }).oclif;
    if (oclif && error.message) {
      const flags = { ...(super.ctor as typeof PrevuCommand).baseFlags, ...this.ctor.flags } as Record<string, FlagLike>;
      process.stderr.write(`prevu: ${parseErrorLine(error.message, flags)}: see \`prevu ${this.id?.replace(/:/g, ' ') ?? ''} --help\`\n`);
      this.exit(ExitCode.user);
    }
    process.stderr.write(`prevu: unexpected error: ${error.message}${this.flags?.debug ? `\n${error.stack}` : ' (run with --debug for details)'}\n`);
    // scripts reading --json get the failure in the shape every other one has
    if (json) this.logJson({ error: { code: errors.unexpected.code, message: error.message, fix: 'run with --debug and report it' } });
    this.exit(ExitCode.environment);
  }

  /** What to tell the user after Ctrl-C (commands that leave something behind say where). */
  protected interruptHint(): string {
    return 'stopped';
  }
}

/** What a parse error needs of a flag's definition to show a right value. */
interface FlagLike {
  type?: string;
  options?: readonly string[];
  default?: unknown;
  description?: string;
  min?: number;
}

/** A right value for a flag: its first option, its default, the one its description gives, or its minimum. */
function flagExample(name: string, flag: FlagLike | undefined): string | undefined {
  if (!flag || flag.type === 'boolean') return undefined;
  const documented = new RegExp(`e\\.g\\. (--${name} \\S+)`).exec(flag.description ?? '')?.[1];
  const value = flag.options?.[0] ?? (typeof flag.default === 'function' ? undefined : flag.default) ?? /\[default: (\S+)\]/.exec(flag.description ?? '')?.[1] ?? flag.min;
  if (documented) return documented;
  return value === undefined ? undefined : `--${name} ${String(value)}`;
}

const lowerFirst = (line: string) => line.charAt(0).toLowerCase() + line.slice(1);

/**
 * oclif's parse error on one line, its reason kept, with a right value of the flag when the value
 * was the problem: "Parsing --ttl \n\tExpected an integer less than or equal to 168 but received:
 * 200\nSee more help with --help" -> "--ttl: expected an integer less than or equal to 168 but
 * received: 200 (e.g. --ttl 24)". oclif's advice lines (help, notes) are dropped: the caller
 * points at --help.
 */
export function parseErrorLine(message: string, flags: Record<string, FlagLike> = {}): string {
  const lines = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^(See more help with|Note:|Alternatively,|The following errors? occurred:)/.test(line));
  if (/^Missing \d+ required args?:$/.test(lines[0]!)) {
    const args = lines.slice(1).map((row) => {
      const [name, ...description] = row.split(/\s{2,}/);
      return `<${name}>${description.length ? ` (${description.join(' ')})` : ''}`;
    });
    return `missing argument ${args.join(', ')}`;
  }
  const needs = /^All of the following must be provided when using (--\S+): (.+)$/.exec(lines.join(' '));
  if (needs) return `${needs[1]} needs ${needs[2]}`;
  const valueOf = /^(?:Parsing --([\w-]+)|Flag --([\w-]+) expects a value)$/.exec(lines[0]!);
  const line = [lines[0]!.replace(/^Parsing (--\S+)$/, '$1'), ...lines.slice(1).map(lowerFirst)].join(': ');
  const name = valueOf?.[1] ?? valueOf?.[2];
  const example = name ? flagExample(name, flags[name]) : undefined;
  return example ? `${line} (e.g. ${example})` : line;
}
