// What a test file uses: `const kit = useKit()` gives a cleanup scope bound to the file's
// lifetime (afterAll), plus the helpers bound to it.
import { afterAll, afterEach } from 'vitest';
import { Cleanup, installExitCleanup } from './cleanup.js';
import { tempComposeProject, type ComposeProjectOptions } from './compose.js';
import { runContainer } from './docker.js';
import { startProcess, type StartOptions } from './process.js';

export function createKit(cleanup = new Cleanup()) {
  installExitCleanup();
  return {
    cleanup,
    start: (options: StartOptions) => startProcess(cleanup, options),
    composeProject: (options: ComposeProjectOptions) => tempComposeProject(cleanup, options),
    /** `docker run -d` with the run label, removed at cleanup. */
    async container(args: string[]): Promise<string> {
      const id = await runContainer(args);
      cleanup.add(`container ${id.slice(0, 12)}`, async () => {
        const { docker } = await import('./docker.js');
        await docker(['rm', '-fv', id]);
      });
      return id;
    },
    /** Registers any extra teardown (e.g. `prevu down`). */
    defer: (name: string, run: () => unknown) => cleanup.add(name, run),
  };
}

export type Kit = ReturnType<typeof createKit>;

/** A kit whose cleanup runs after all tests of the file (or after each test with `scope: 'each'`). */
export function useKit(scope: 'all' | 'each' = 'all'): Kit {
  const kit = createKit();
  (scope === 'all' ? afterAll : afterEach)(() => kit.cleanup.run(), 120_000);
  return kit;
}
