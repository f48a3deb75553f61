import { readFileSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { loadComposeProject } from '@prevu/core/compose';
import { compareKeys, type KeyComparison } from '@prevu/core/env-scan';
import { errors } from '@prevu/core/errors';
import { PrevuCommand } from '../../base.js';
import { composeSource, projectFlags } from '../../project-flags.js';

export default class ConfigCheck extends PrevuCommand<typeof ConfigCheck> {
  static override description = "Compare the project's environment keys (as compose resolves them) with a dotenv file's: keys one has and the other lacks";
  static override examples = ['<%= config.bin %> config check --against .env.production'];
  static override flags = {
    file: projectFlags.file,
    'project-directory': projectFlags['project-directory'],
    'compose-profile': projectFlags['compose-profile'],
    against: Flags.string({ description: 'the dotenv file to compare with, e.g. --against .env.production', required: true }),
  };

  async run(): Promise<KeyComparison> {
    let text: string;
    try {
      text = readFileSync(this.flags.against, 'utf8');
    } catch (error) {
      throw errors.dotenvUnreadable(this.flags.against, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
    }
    const { model } = await loadComposeProject(composeSource(this.flags));
    const result = compareKeys(model, text);
    if (!this.jsonEnabled()) {
      for (const key of result.missingInFile) this.log(`✗ ${key}: the project's services use it, ${this.flags.against} does not set it`);
      for (const key of result.unusedInProject) this.log(`? ${key}: ${this.flags.against} sets it, no service of the project uses it`);
      if (!result.missingInFile.length && !result.unusedInProject.length) this.log(`✓ ${this.flags.against} and the project have the same keys`);
    }
    // a key the project needs and the file lacks is what breaks a deploy
    if (result.missingInFile.length) this.exit(1);
    return result;
  }
}
