// Entry point of the agent container: settings, logger, the agent, and a clean stop on signals.
// first: ssh2 must be loaded by it (its packet padding from a pool)
import '@prevu/core/ssh2-padding';
import { pino } from 'pino';
import { Agent } from './agent.js';
import { isPrevuError } from '@prevu/core/errors';
import { loadConfig } from './config.js';

function main(): void {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (isPrevuError(error)) {
      process.stderr.write(`prevu-agent: ${error.line}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
  const log = pino({ level: config.logLevel, base: { envId: config.envId } });
  const agent = new Agent(config, log);
  agent.start().catch((error: Error) => {
    log.fatal({ err: error.message }, 'agent could not start');
    process.exit(2);
  });
  // `docker stop` / `docker compose down` send SIGTERM to node as PID 1, where no signal has a
  // default action: these handlers are what makes the agent stop. It cancels its forwards (the
  // URLs answer 404, not "tunnel gone") and exits 0; the timer bounds it under docker's 10 s grace.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: cancelling forwards');
    void agent.close().finally(() => {
      log.info('stopped');
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
