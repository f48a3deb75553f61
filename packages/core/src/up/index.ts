// `prevu up`, the path in docs/architecture.md: the steps in order, which the CLI renders (listr2)
// or runs plainly (--json); each may report progress lines, and the deploy emits events
// (build_registered ... url_assigned) through the session's `onEvent`.
import { build } from './build.js';
import type { Step, UpContext } from './context.js';
import { prepareMachine } from './machine.js';
import { openUrls } from './open-urls.js';
import { readProject } from './read-project.js';
import { start } from './start.js';
import { tunnelServer } from './tunnel-server.js';
import { upload } from './upload.js';

export function upSteps(): Step<UpContext>[] {
  return [readProject, tunnelServer, prepareMachine, upload, build, start, openUrls];
}

export { closeContext, newUpContext, runSteps, type Step, type UpContext, type UpOptions, type UpResult } from './context.js';
