// The store URL, `s3://<bucket>/<prefix>`: checked once here, then used in its one spelling
// (no trailing slash) in the profile, in messages and in the Action's input.
import { z } from 'zod';
import { errors } from '../errors.js';

export interface StoreLocation {
  bucket: string;
  /** '' or `a/b`: keys are `<prefix>/<key>`. */
  prefix: string;
  url: string;
}

// S3's bucket rules (3-63 characters, lower case, digits, dots, dashes); a prefix of plain path segments.
const bucket = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a bucket name is 3-63 characters: a-z, 0-9, dots and dashes');
const prefix = z
  .string()
  .regex(/^([A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*)?$/, 'the prefix is path segments of A-Z, a-z, 0-9, dot, dash and underscore');

export function isStoreUrl(text: string): boolean {
  return text.startsWith('s3://');
}

export function parseStoreUrl(url: string): StoreLocation {
  const match = /^s3:\/\/([^/]*)\/?(.*?)\/?$/.exec(url.trim());
  if (!match) throw errors.storeUrlInvalid(url, 'it must start with s3://');
  for (const [schema, value] of [[bucket, match[1]!], [prefix, match[2]!]] as const) {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw errors.storeUrlInvalid(url, parsed.error.issues[0]!.message);
  }
  const [b, p] = [match[1]!, match[2]!];
  return { bucket: b, prefix: p, url: `s3://${b}${p ? `/${p}` : ''}` };
}
