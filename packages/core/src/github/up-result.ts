// Reads the URL table out of what `prevu up --json` printed, so the action and `prevu github
// report` work from the CLI's own output (one JSON document, possibly after JSON event lines).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { errors } from '../errors.js';
import type { PreviewUrl } from './markdown.js';

const row = z.object({ service: z.string().min(1), port: z.number().int().positive().optional(), url: z.string().url() });
const upResultSchema = z.object({
  envId: z.string().min(1).optional(),
  urls: z.array(row),
  missingEnv: z.array(z.object({ name: z.string().max(200), expectedBy: z.string().max(500) })).max(200).optional(),
});

export interface UpResult {
  envId?: string;
  urls: PreviewUrl[];
  /** Variables the project expects and the run did not set (`prevu up` warned of them). */
  missingEnv?: { name: string; expectedBy: string }[];
}

/** The URL table in a file (`-`: stdin), as `prevu github report --result` takes it. */
export function readUpResult(file: string): UpResult {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw errors.upResultUnreadable(file, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  return parseUpResult(text, file === '-' ? 'stdin' : file);
}

/** The last JSON object in the text that carries a URL table. */
export function parseUpResult(text: string, source: string): UpResult {
  const candidates = [text, ...text.split('\n').reverse()];
  for (const candidate of candidates) {
    const trimmed = candidate.trim();
    if (!trimmed.startsWith('{')) continue;
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      continue;
    }
    const parsed = upResultSchema.safeParse(json);
    if (parsed.success) return parsed.data;
  }
  throw errors.upResultInvalid(source);
}

const cliErrorSchema = z.object({ error: z.object({ message: z.string(), fix: z.string().optional() }) });

/** The one-line error a failed `prevu ... --json` printed (`{"error": {message, fix}}`), if any. */
export function parseCliError(text: string): string | undefined {
  for (const line of text.split('\n').reverse()) {
    if (!line.trim().startsWith('{')) continue;
    try {
      const parsed = cliErrorSchema.safeParse(JSON.parse(line));
      if (parsed.success) return parsed.data.error.fix ? `${parsed.data.error.message}: ${parsed.data.error.fix}` : parsed.data.error.message;
    } catch {
      // not JSON: keep looking
    }
  }
  return undefined;
}
