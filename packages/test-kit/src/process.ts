// Starts a process, waits until it is ready (an output line or an answering URL), and makes sure
// it is stopped by the test's cleanup, by an exit handler, or by the global sweep of pid files.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { Cleanup } from './cleanup.js';
import { pidDir } from './run.js';

export interface StartOptions {
  command: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Ready when a stdout/stderr line matches. */
  readyLine?: RegExp;
  /** Ready when this URL answers any HTTP status. */
  readyUrl?: string;
  timeoutMs?: number;
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** All output so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | NodeJS.Signals>;
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
}

export async function startProcess(cleanup: Cleanup, options: StartOptions): Promise<Proc> {
  const child = spawn(options.command, options.args ?? [], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    await new Promise((resolve) => child.once('error', resolve));
    throw new Error(`could not start ${options.command}`);
  }
  const pid = child.pid;
  mkdirSync(pidDir, { recursive: true });
  const pidFile = join(pidDir, String(pid));
  writeFileSync(pidFile, `${options.command} ${(options.args ?? []).join(' ')}`);

  let out = '';
  let onLine: ((line: string) => void) | undefined;
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    let partial = '';
    stream.on('data', (chunk: string) => {
      out += chunk;
      if (out.length > 4_000_000) out = out.slice(-2_000_000);
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) onLine?.(line);
    });
  }
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('exit', (code, signal) => {
      rmSync(pidFile, { force: true });
      resolve(code ?? signal ?? 0);
    });
  });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    }
    return exited;
  };
  cleanup.add(`process ${options.command}`, () => stop(), () => child.kill('SIGKILL'));

  const proc: Proc = { child, pid, output: () => out, exited, stop };
  // A bound for a hung start, not a timing check: generous, since CI may be loaded.
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const describe = () => `${options.command} ${(options.args ?? []).join(' ')}`;

  if (options.readyLine) {
    const pattern = options.readyLine;
    if (!out.split('\n').some((l) => pattern.test(l))) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${describe()} not ready after ${timeoutMs} ms:\n${out.slice(-2000)}`)), timeoutMs);
        onLine = (line) => {
          if (pattern.test(line)) {
            clearTimeout(timer);
            onLine = undefined;
            resolve();
          }
        };
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${describe()} exited (${code}) before it was ready:\n${out.slice(-2000)}`));
        });
      });
    }
  }
  if (options.readyUrl) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${describe()} exited (${child.exitCode}) before it was ready:\n${out.slice(-2000)}`);
      try {
        const res = await request(options.readyUrl, { headersTimeout: 1000, bodyTimeout: 1000 });
        await res.body.dump();
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`${describe()}: ${options.readyUrl} did not answer within ${timeoutMs} ms:\n${out.slice(-2000)}`);
        await sleep(50);
      }
    }
  }
  return proc;
}

/** Kills processes recorded by any kit in this run that are still alive; returns what it killed. */
export function killRecorded(dir = pidDir): string[] {
  const killed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return killed;
  }
  for (const name of entries) {
    const file = join(dir, name);
    try {
      const command = readFileSync(file, 'utf8');
      process.kill(Number(name), 'SIGKILL');
      killed.push(`${name} (${command.slice(0, 120)})`);
    } catch {
      // already gone
    }
    rmSync(file, { force: true });
  }
  return killed;
}
