// The agent client as users run it: `agent-client.mjs` bundled with the agent's own bundle options
// (so ssh2 runs without its native binding, as in dist/agent.mjs) and started with the image's
// node flags and environment, read from its Dockerfile (their one owner).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleOptions } from '../../packages/compose-tunnel-agent/scripts/bundle-options.mjs';

const agentDir = resolve(import.meta.dirname, '../../packages/compose-tunnel-agent');

/** The image's `CMD ["node", <flags>..., "/agent/agent.mjs"]` flags and its `ENV` pairs. */
export function imageRuntime() {
  const dockerfile = readFileSync(join(agentDir, 'Dockerfile'), 'utf8');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)[1]);
  const env = Object.fromEntries([.../^ENV (.*)$/m.exec(dockerfile)[1].matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  return { flags: cmd.slice(1, -1), env };
}

/** Bundles the bench's agent client into `dir`; the file to run. */
export async function bundleAgentClient(dir) {
  const outfile = join(dir, 'agent-client.bundle.mjs');
  await build({ ...bundleOptions, entryPoints: [join(import.meta.dirname, 'agent-client.mjs')], outfile });
  return outfile;
}
