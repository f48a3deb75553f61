// Turns what the Lightsail SDK throws into one PrevuError line that names the cause: the missing
// IAM action, the credentials, the throttling. It keys on AWS's error codes (`__type`), never on
// the wording of a message, which is AWS's to change. (Preevy #458 showed a missing permission as
// "403 UnknownError"; prevu names it.)
import { errors, isPrevuError, type PrevuError } from '../errors.js';

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
      // A wrong secret and a region Lightsail does not serve are refused alike: name both.
      mapped = errors.awsSignatureRefused(message, context.region);
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
      // The zone, bundle and blueprint were checked against Lightsail's lists before the create;
      // what is left (a quota, a name) is in AWS's own words.
      mapped = errors.lightsailRefused(context.operation, message, `region ${context.region}, availabilityZone ${context.availabilityZone}, bundleId ${context.bundleId}, blueprintId ${context.blueprintId}`);
      break;
    case 'ServiceException':
    case 'OperationFailureException':
      mapped = errors.lightsailFailed(context.operation, `${name}: ${message}`);
      break;
    case 'AccountSetupInProgressException':
    case 'RegionSetupInProgressException':
      mapped = errors.lightsailSettingUp(message);
      break;
    default:
      if (e.code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)$/.test(e.code)) {
        // A region without a Lightsail endpoint fails here (no DNS name), so say that first.
        mapped = e.code === 'ENOTFOUND' && !process.env.AWS_ENDPOINT_URL_LIGHTSAIL && !process.env.AWS_ENDPOINT_URL
          ? errors.awsInvalidSetting(`the region "${context.region}" (no Lightsail endpoint there)`, '--set region=<region>', 'aws lightsail get-regions')
          : errors.awsUnreachable(context.endpoint, e.code);
      } else {
        mapped = errors.lightsailError(context.operation, `${name || 'error'}: ${message}`);
      }
  }
  mapped.cause = error;
  return mapped;
}
