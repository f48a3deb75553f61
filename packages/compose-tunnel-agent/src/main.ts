// Entry point of the agent container: settings, logger, the agent, and a clean stop on signals.
import { pino } from 'pino';
import { Agent } from './agent.js';
import { ConfigError, loadConfig } from './config.js';

function main(): void {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`prevu-agent: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const log = pino({ level: config.logLevel, base: { envId: config.envId } });
  const agent = new Agent(config, log);
  agent.start().catch((error: Error) => {
    log.fatal({ err: error.message }, 'agent could not start');
    process.exit(2);
  });
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    void agent.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main();
