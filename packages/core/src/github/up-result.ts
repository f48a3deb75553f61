// Reads the URL table out of what `prevu up --json` printed (and the envs `prevu gc --json`
// removed), so the action and `prevu github report` work from the CLI's own output (one JSON
// document, possibly after JSON event lines).
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
  const result = lastDocument(text, upResultSchema);
  if (!result) throw errors.upResultInvalid(source);
  return result;
}

const gcResultSchema = z.object({ envs: z.array(z.object({ envId: z.string().min(1).max(200), removed: z.boolean() })).max(10_000) });

/** The ids of the envs `prevu gc --json` removed. */
export function parseGcResult(text: string): string[] {
  const result = lastDocument(text, gcResultSchema);
  if (!result) throw errors.gcResultInvalid();
  return result.envs.filter((e) => e.removed).map((e) => e.envId);
}

/** The last JSON document in the text (the whole of it, or one line) that `schema` accepts. */
function lastDocument<T extends z.ZodType>(text: string, schema: T): z.infer<T> | undefined {
  for (const candidate of [text, ...text.split('\n').reverse()]) {
    const trimmed = candidate.trim();
    if (!trimmed.startsWith('{')) continue;
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      continue;
    }
    const parsed = schema.safeParse(json);
    if (parsed.success) return parsed.data;
  }
  return undefined;
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
