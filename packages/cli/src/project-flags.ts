// Flags that pick the compose project and the env (up, down, urls, logs, status).
import { Flags } from '@oclif/core';
import type { ComposeSource } from '@prevu/core/compose';

export const projectFlags = {
  id: Flags.string({ description: 'env id (default: <compose project>-<git branch>)' }),
  file: Flags.string({ char: 'f', description: 'compose file (repeatable, like docker compose -f)', multiple: true }),
  'project-directory': Flags.string({ description: 'compose project directory' }),
  'compose-profile': Flags.string({ description: 'compose profile to enable (repeatable)', multiple: true }),
};

/** Same flags for commands where -f means something else (logs -f follows). */
export const projectFlagsNoShort = { ...projectFlags, file: Flags.string({ description: 'compose file (repeatable)', multiple: true }) };

export function composeSource(flags: { file?: string[]; 'project-directory'?: string; 'compose-profile'?: string[] }): ComposeSource {
  return {
    cwd: process.cwd(),
    ...(flags.file?.length ? { files: flags.file } : {}),
    ...(flags['project-directory'] ? { projectDirectory: flags['project-directory'] } : {}),
    ...(flags['compose-profile']?.length ? { profiles: flags['compose-profile'] } : {}),
  };
}
