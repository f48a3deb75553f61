// The job summary: markdown appended to the file GitHub Actions names in $GITHUB_STEP_SUMMARY.
import { appendFileSync } from 'node:fs';

/** Appends; returns the file written, or undefined outside GitHub Actions. */
export function appendJobSummary(markdown: string, path: string | undefined = process.env.GITHUB_STEP_SUMMARY): string | undefined {
  if (!path) return undefined;
  appendFileSync(path, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  return path;
}
