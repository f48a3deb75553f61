import { Args, Flags } from '@oclif/core';
import { ciEnvId, detectCi } from '@prevu/core/ci/detect';
import { errors } from '@prevu/core/errors';
import { reportDown, reportUp, type ReportResult } from '@prevu/core/github/report';
import { readUpResult } from '@prevu/core/github/up-result';
import { envIdOf } from '@prevu/core/env-id';
import { PrevuCommand } from '../../base.js';
import { warningLine } from '../../github/run-prevu.js';

export default class GithubReport extends PrevuCommand<typeof GithubReport> {
  static override summary = 'Report an environment to GitHub: sticky PR comment, deployment (or commit status), job summary.';
  static override description = `For any CI that runs prevu itself: after \`prevu up --json > up.json\`, run
\`prevu github report up --result up.json\`; after \`prevu down\`, \`prevu github report down\`.
The repository, PR number and commit come from the CI's variables (GitHub Actions, GitLab CI, or
PREVU_CI_REPO / PREVU_CI_PR / PREVU_CI_SHA); the token from --token or GITHUB_TOKEN; the API from
GITHUB_API_URL. A failure to write to GitHub is a warning unless --strict.`;
  static override examples = [
    '<%= config.bin %> up --json > up.json && <%= config.bin %> github report up --result up.json',
    '<%= config.bin %> github report down --id pr-12',
  ];
  static override args = {
    event: Args.string({ description: 'what happened', options: ['up', 'down'], required: true }),
  };
  static override flags = {
    result: Flags.string({ description: 'file with the output of `prevu up --json` ("-" for stdin); needed for up' }),
    id: Flags.string({ description: 'env id (default: pr-<number> in a pull request, else the one in --result)' }),
    token: Flags.string({ description: 'GitHub token (default: $GITHUB_TOKEN)', env: 'GITHUB_TOKEN' }),
    comment: Flags.boolean({ description: 'write the sticky PR comment', default: true, allowNo: true }),
    status: Flags.string({ description: 'how the commit links to the environment', options: ['deployment', 'commit', 'none'], default: 'deployment' }),
    summary: Flags.boolean({ description: 'append to $GITHUB_STEP_SUMMARY', default: true, allowNo: true }),
    strict: Flags.boolean({ description: 'fail when GitHub cannot be written to', default: false }),
  };

  async run(): Promise<ReportResult & { envId: string }> {
    const { args, flags } = this;
    const ci = detectCi();
    let result: ReturnType<typeof readUpResult> | undefined;
    if (args.event === 'up') {
      if (!flags.result) throw errors.reportNeedsResult();
      result = readUpResult(flags.result);
    }
    const envId = flags.id ? envIdOf(flags.id) : (result?.envId ?? ciEnvId(ci));
    if (!envId) throw errors.reportNoEnvId();
    const options = {
      ci,
      envId,
      token: flags.token,
      comment: flags.comment,
      status: flags.status as 'deployment' | 'commit' | 'none',
      strict: flags.strict,
      ...(flags.summary ? {} : { summaryPath: '' }),
      ...(result?.missingEnv?.length ? { missingEnv: result.missingEnv } : {}),
    };
    const report = result ? await reportUp(result.urls, options) : await reportDown(options);
    for (const warning of report.warnings) process.stderr.write(`${warningLine(warning)}\n`);
    if (!this.jsonEnabled() && report.comment) this.log(`PR comment ${report.comment.action}: ${report.comment.url}`);
    return { envId, ...report };
  }
}
