// Turns what the Lightsail SDK throws into one PrevuError line that names the cause: the missing
// IAM action, the setting AWS refused, the quota. (Preevy #458 showed a missing permission as
// "403 UnknownError"; prevu names it.)
import { errors, isPrevuError, PrevuError } from '../errors.js';

export interface LightsailErrorContext {
  /** The API operation that failed, e.g. `CreateInstances`. */
  operation: string;
  region: string;
  availabilityZone: string;
  bundleId: string;
  blueprintId: string;
  endpoint: string;
}

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

const quotaPattern = /quota|limit|maximum number/i;

export function lightsailError(error: unknown, context: LightsailErrorContext): PrevuError {
  if (isPrevuError(error)) return error;
  const e = (error ?? {}) as SdkError;
  const name = e.name ?? '';
  const message = (e.message ?? String(error)).split('\n')[0]!;
  const action = `lightsail:${context.operation}`;
  let mapped: PrevuError;
  switch (name) {
    case 'CredentialsProviderError':
      mapped = errors.awsNoCredentials(message);
      break;
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
    case 'UnauthenticatedException':
    case 'SignatureDoesNotMatch':
    case 'ExpiredTokenException':
      mapped = errors.awsBadCredentials(message);
      break;
    case 'InvalidSignatureException':
      mapped = /valid region/i.test(message)
        ? errors.awsInvalidSetting(`the region "${context.region}"`, '--set region=<region>', 'aws lightsail get-regions')
        : errors.awsBadCredentials(message);
      break;
    case 'AccessDeniedException':
      mapped = errors.awsAccessDenied(action, message);
      break;
    case 'ThrottlingException':
    case 'TooManyRequestsException':
    case 'RequestLimitExceeded':
      mapped = errors.awsThrottled(action);
      break;
    case 'InvalidInputException':
      mapped = invalidInput(message, context);
      break;
    case 'ServiceException':
    case 'OperationFailureException':
      mapped = quotaPattern.test(message) ? errors.awsQuota(message) : errors.cloud(`Lightsail failed ${context.operation} (${name}: ${message})`, 'retry; if it persists, check the AWS Health Dashboard');
      break;
    case 'AccountSetupInProgressException':
    case 'RegionSetupInProgressException':
      mapped = errors.cloud(`Lightsail is still setting up this account or region (${message})`, 'wait a few minutes and retry');
      break;
    default:
      if (e.code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)$/.test(e.code)) {
        // A region without a Lightsail endpoint fails here (no DNS name), so say that first.
        mapped = e.code === 'ENOTFOUND' && !process.env.AWS_ENDPOINT_URL_LIGHTSAIL && !process.env.AWS_ENDPOINT_URL
          ? errors.awsInvalidSetting(`the region "${context.region}" (no Lightsail endpoint there)`, '--set region=<region>', 'aws lightsail get-regions')
          : errors.awsUnreachable(context.endpoint, e.code);
      } else {
        mapped = errors.cloud(`Lightsail failed ${context.operation} (${name || 'error'}: ${message})`, 'retry; run with --debug for the full error');
      }
  }
  return new PrevuError(mapped.code, mapped.message, mapped.fix, mapped.kind, { cause: error });
}

function invalidInput(message: string, context: LightsailErrorContext): PrevuError {
  if (/bundle/i.test(message)) return errors.awsInvalidSetting(`the bundle "${context.bundleId}" (${message})`, '--set bundleId=<id>', 'aws lightsail get-bundles');
  if (/blueprint/i.test(message)) return errors.awsInvalidSetting(`the blueprint "${context.blueprintId}" (${message})`, '--set blueprintId=<id>', 'aws lightsail get-blueprints');
  if (/availability ?zone/i.test(message)) return errors.awsInvalidSetting(`the availability zone "${context.availabilityZone}" (${message})`, '--set availabilityZone=<zone>', `aws lightsail get-regions --include-availability-zones --region ${context.region}`);
  if (/region/i.test(message)) return errors.awsInvalidSetting(`the region "${context.region}" (${message})`, '--set region=<region>', 'aws lightsail get-regions');
  if (quotaPattern.test(message)) return errors.awsQuota(message);
  return errors.cloudUser(`Lightsail refused ${context.operation} (${message})`, 'check the profile\'s lightsail settings (profile.json driverOptions)');
}
