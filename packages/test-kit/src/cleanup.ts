// Guaranteed cleanup: tasks run last-in first-out when the test's scope ends, when the process
// exits, and on SIGINT/SIGTERM; anything still labeled is then swept from Docker.
import { sweepSync } from './docker.js';
import { ownerLabel } from './run.js';

type Task = { name: string; run: () => unknown; sync?: () => void };

const pending = new Set<Task>();

export class Cleanup {
  private tasks: Task[] = [];

  /** `run` is awaited in normal cleanup; `sync` (optional) is what an exit handler can still do. */
  add(name: string, run: () => unknown, sync?: () => void): void {
    const task = { name, run, ...(sync ? { sync } : {}) };
    this.tasks.push(task);
    pending.add(task);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const task of this.tasks.reverse()) {
      try {
        await task.run();
      } catch (error) {
        errors.push(new Error(`cleanup "${task.name}" failed: ${(error as Error).message}`));
      } finally {
        pending.delete(task);
      }
    }
    this.tasks = [];
    if (errors.length) throw new AggregateError(errors, errors.map((e) => (e as Error).message).join('; '));
  }
}

function runPendingSync(): void {
  for (const task of [...pending].reverse()) {
    try {
      task.sync?.();
    } catch {
      // best effort while exiting; the label sweep below catches what is left
    }
  }
  pending.clear();
  try {
    sweepSync(ownerLabel);
  } catch {
    // docker may be gone; scripts/test.sh reports leftovers
  }
}

let installed = false;
/** Installs exit and signal handlers once per process. */
export function installExitCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    if (pending.size) runPendingSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      // vitest ends idle fork workers with SIGTERM; the sweep is limited to this process's own
      // resources, so it never touches what another worker's file is still using.
      if (pending.size) runPendingSync();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}
