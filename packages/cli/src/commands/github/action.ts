import { ciEnvId, detectCi } from '@prevu/core/ci/detect';
import { errors } from '@prevu/core/errors';
import { actionOutputs, materializeProfile, planAction, readActionInputs, writeStepOutputs } from '@prevu/core/github/action';
import { reportDown, reportFailure, reportUp, type ReportResult } from '@prevu/core/github/report';
import { parseCliError, parseGcResult, parseUpResult } from '@prevu/core/github/up-result';
import { envIdOf } from '@prevu/core/env-id';
import { PrevuCommand } from '../../base.js';
import { runPrevu, warningLine } from '../../github/run-prevu.js';

export default class GithubAction extends PrevuCommand<typeof GithubAction> {
  static override summary = 'The GitHub Action step: prevu up, down or gc, then the PR comment, deployment and job summary.';
  static override description = `Reads the action's inputs from INPUT_* variables (command, profile, account-key, driver, id, args,
github-token, comment, status, strict), runs \`prevu <command> --json\`, then reports to GitHub and
writes the step outputs \`urls\` (JSON) and \`url\` to $GITHUB_OUTPUT. In a pull request the env id
defaults to pr-<number>. \`gc\` (for a scheduled workflow) removes the profile's expired envs and
retires the deployment of each, writing their ids as the step output \`removed\` (JSON). A GitHub
reporting failure is a warning unless strict is true.`;
  static override examples = ['INPUT_COMMAND=up GITHUB_TOKEN=... <%= config.bin %> github action'];

  async run(): Promise<{ envId: string; urls: unknown[]; github: ReportResult } | { removed: string[]; github: ReportResult[] }> {
    const inputs = readActionInputs();
    const ci = detectCi();
    const wanted = inputs.id ? envIdOf(inputs.id) : ciEnvId(ci);
    const plan = planAction(inputs, wanted, await materializeProfile(inputs));
    const run = await runPrevu(this.config.root, plan.argv);
    const token = inputs['github-token'] || process.env.GITHUB_TOKEN;
    if (run.code !== 0) {
      // The PR shows the failure too (its comment and deployment); the step keeps the CLI's exit
      // code (1 user, 2 environment, 130), whose one-line error is already in the log.
      if (inputs.command === 'up' && plan.envId && run.code !== 130) {
        const error = parseCliError(run.stdout) ?? `prevu up exited with code ${run.code}`;
        const failed = await reportFailure(error, { ci, token, envId: plan.envId, ...plan.report, strict: false });
        for (const warning of failed.warnings) process.stderr.write(`${warningLine(warning)}\n`);
      }
      this.exit(run.code);
    }
    if (inputs.command === 'gc') return this.reportGc(run.stdout, { ci, token, ...plan.report });
    let urls: ReturnType<typeof parseUpResult>['urls'] = [];
    let missingEnv: ReturnType<typeof parseUpResult>['missingEnv'];
    let envId = plan.envId;
    if (inputs.command === 'up') {
      const result = parseUpResult(run.stdout, '`prevu up --json` output');
      urls = result.urls;
      missingEnv = result.missingEnv;
      envId = result.envId ?? envId;
    }
    if (!envId) throw errors.actionUpNoEnvId();
    const options = { ci, token, envId, ...plan.report, ...(missingEnv?.length ? { missingEnv } : {}) };
    const github = inputs.command === 'up' ? await reportUp(urls, options) : await reportDown(options);
    for (const warning of github.warnings) process.stderr.write(`${warningLine(warning)}\n`);
    writeStepOutputs(actionOutputs(urls));
    if (!this.jsonEnabled()) {
      if (github.comment) this.log(`PR comment ${github.comment.action}: ${github.comment.url}`);
      if (github.deployment) this.log(`deployment ${github.deployment.deploymentId} (${github.deployment.environment})`);
    }
    return { envId, urls, github };
  }

  /** After `prevu gc --json`: each removed env's deployment is retired (and its PR comment says so when the run is in that PR). */
  private async reportGc(stdout: string, options: Omit<Parameters<typeof reportDown>[0], 'envId'>): Promise<{ removed: string[]; github: ReportResult[] }> {
    const removed = parseGcResult(stdout);
    const github: ReportResult[] = [];
    for (const envId of removed) {
      const result = await reportDown({ ...options, envId });
      for (const warning of result.warnings) process.stderr.write(`${warningLine(warning)}\n`);
      github.push(result);
    }
    writeStepOutputs({ removed: JSON.stringify(removed) });
    if (!this.jsonEnabled()) this.log(removed.length ? `removed ${removed.join(', ')}` : 'no expired envs');
    return { removed, github };
  }
}
