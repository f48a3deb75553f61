// Turns what the S3 SDK throws into one PrevuError line. A refusal names the IAM action the
// operation needs and the bucket (S3's AccessDenied does not say which action it checked). It
// keys on S3's error codes, never on the wording of a message.
import { errors, isPrevuError, type PrevuError } from '../errors.js';

/** The IAM action each operation prevu uses needs. */
export const IAM_ACTION = {
  GetObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  DeleteObject: 's3:DeleteObject',
  ListObjectsV2: 's3:ListBucket',
} as const;

export type S3Operation = keyof typeof IAM_ACTION;

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

export function s3Error(error: unknown, operation: S3Operation, context: { bucket: string; key: string; endpoint: string }): PrevuError {
  if (isPrevuError(error)) return error;
  const e = (error ?? {}) as SdkError;
  const name = e.name ?? e.Code ?? '';
  const status = e.$metadata?.httpStatusCode;
  const message = (e.message ?? String(error)).split('\n')[0]!;
  const where = `s3://${context.bucket}/${context.key}`;
  let mapped: PrevuError;
  if (name === 'CredentialsProviderError') mapped = errors.awsNoCredentials(message);
  else if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired'].includes(name)) mapped = errors.awsBadCredentials(`${name}: ${message}`);
  else if (name === 'AccessDenied' || (status === 403 && !name.startsWith('Invalid'))) {
    // ListBucket is granted on the bucket, the object actions on its objects
    const resource = operation === 'ListObjectsV2' ? `arn:aws:s3:::${context.bucket}` : `arn:aws:s3:::${context.bucket}/${context.key}`;
    mapped = errors.storeAccessDenied(IAM_ACTION[operation], context.bucket, resource);
  } else if (name === 'NoSuchBucket') mapped = errors.storeNoBucket(context.bucket, context.endpoint);
  // a write over a version that is gone (If-Match on no object: 404) lost to another writer too
  else if (name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || status === 412 || (operation === 'PutObject' && name === 'NoSuchKey')) mapped = errors.storeConflict(where);
  else if (e.code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)$/.test(e.code)) mapped = errors.storeUnreachable(context.endpoint, e.code);
  else mapped = errors.storeFailed(operation, where, `${name || 'error'}: ${message}`);
  mapped.cause = error;
  return mapped;
}
