// Why a service is not ready, in one line of cause and one of fix, from what Docker knows of its
// containers (no SSH, no guessing): how it exited (code, signal, OOM kill against its memory
// limit), what its healthcheck printed, which dependency it waits for, where it listens. `prevu
// doctor --id` and `prevu status` show these; the routing state itself is state.ts's.
import { constants } from 'node:os';
import { DEPENDS_ON_LABEL } from './docker.js';
import type { Environment } from './state.js';

export interface Diagnosis {
  cause: string;
  fix: string;
  /** false while the service may still become ready on its own (starting, no evidence against it yet). */
  settled: boolean;
}

const SIGNALS = Object.fromEntries(Object.entries(constants.signals).map(([name, number]) => [number, name]));
const MiB = 1024 * 1024;

/** `api:service_healthy:false,db:service_started:true` -> the services it waits for and how. */
export function dependsOn(label: string | undefined): { service: string; condition: string }[] {
  return (label ?? '')
    .split(',')
    .filter(Boolean)
    .map((part) => {
      const [service = '', condition = 'service_started'] = part.split(':');
      return { service, condition };
    });
}

/** How a container ended, from its exit code and Docker's OOM flag. */
function exitCause(code: number, oomKilled: boolean | undefined, memory: number | undefined): string {
  if (oomKilled) return `it was OOM-killed${memory ? ` at its memory limit of ${Math.round(memory / MiB)} MiB` : ''} (exit code ${code})`;
  if (code > 128 && SIGNALS[code - 128]) return `it was killed by signal ${code - 128} (${SIGNALS[code - 128]}, exit code ${code})`;
  return `it exited with code ${code}`;
}

export function diagnose(env: Environment, service: string, seen: Set<string> = new Set()): Diagnosis | undefined {
  const route = env.route(service);
  if (route.state === 'ready') return undefined;
  // the lifecycle's doing, not the service's (lifecycle.ts): its own events say so, no diagnosis event
  if (route.state === 'expired') return { cause: route.reason ?? 'the env expired', fix: 'run `prevu up` again', settled: false };
  if (route.state === 'asleep') return { cause: route.reason ?? 'the env is asleep', fix: 'a request to any of its URLs wakes it', settled: false };
  const entry = env.services.get(service);
  const logs = `see \`prevu logs ${service}\``;
  const containers = [...(entry?.containers.values() ?? [])];
  const newest = containers.at(-1)?.inspected;
  // Not settled: a docker event names a service a moment before its container is inspected (and
  // services without containers drop out at the next resync), so this is a passing state here.
  if (!entry || !newest) return { cause: `service ${service} has no container`, fix: 'it was never created: `prevu up --debug` shows why (a failed build, a missing image)', settled: false };
  if (entry.problem) return { cause: entry.problem, fix: 'fix the prevu.expose label', settled: true };

  const state = newest.State;
  const memory = newest.HostConfig?.Memory || undefined;
  if (route.state === 'crash_loop') {
    return { cause: `service ${service} restarted ${entry.restarts.length || 3} times within a minute and was stopped: ${exitCause(state.ExitCode, state.OOMKilled, memory)}`, fix: `${logs}; fix the crash, then \`prevu up\` starts it again`, settled: true };
  }
  if (state.Restarting) return { cause: `service ${service} is restarting (${newest.RestartCount} restarts): ${exitCause(state.ExitCode, state.OOMKilled, memory)}`, fix: logs, settled: true };
  if (route.state === 'stopped') {
    if (state.Status === 'created') {
      // compose created it and never started it: a dependency's condition was not met
      for (const dep of dependsOn(newest.Config.Labels?.[DEPENDS_ON_LABEL])) {
        if (seen.has(dep.service)) continue;
        const why = diagnose(env, dep.service, new Set([...seen, service]));
        if (why) return { cause: `service ${service} was not started: it waits for ${dep.service} (${dep.condition}), and ${why.cause}`, fix: why.fix, settled: why.settled };
      }
      return { cause: `service ${service} was created but never started`, fix: '`prevu up` starts it', settled: true };
    }
    if (state.Error) {
      // the runtime's own words end in its reason: `...unable to start container process: exec: "x": executable file not found in $PATH: unknown`
      const reason = /unable to start container process: (.+?)(?:: unknown)?$/.exec(state.Error)?.[1] ?? state.Error;
      return { cause: `service ${service} could not start: ${reason}`, fix: 'fix what Docker refused (its command or entrypoint, a mount), then `prevu up`', settled: true };
    }
    if (state.OOMKilled) {
      return { cause: `service ${service} stopped: ${exitCause(state.ExitCode, true, memory)}`, fix: `raise its memory limit (mem_limit or deploy.resources.limits.memory)${memory ? '' : ' or the machine\'s memory'}, or make it use less; ${logs}`, settled: true };
    }
    return { cause: `service ${service} stopped: ${exitCause(state.ExitCode, false, memory)}`, fix: logs, settled: true };
  }
  if (route.state === 'unhealthy' || (route.state === 'starting' && entry.healthchecked)) {
    const check = state.Health?.Log?.at(-1);
    const output = check?.Output.trim().split('\n').filter(Boolean).at(-1);
    const last = check ? `: the last check exited ${check.ExitCode}${output ? ` saying "${output.slice(0, 200)}"` : ' with no output'}` : '';
    return route.state === 'unhealthy'
      ? { cause: `service ${service} fails its healthcheck${last}`, fix: `run the healthcheck command in the container to see why; ${logs}`, settled: true }
      : { cause: `service ${service} has not passed its healthcheck yet${last}`, fix: `give it time (its start_period), or ${logs}`, settled: false };
  }
  // a port refusing may still open: it stands once two readings of the container's sockets agree
  const cause = route.reason ?? `service ${service} is ${route.state}`;
  return { cause, fix: logs, settled: !cause.endsWith(' yet') && (entry.sockets?.stable ?? false) };
}

