// A local stand-in for the AWS Lightsail API, for tests that drive the real
// @aws-sdk/client-lightsail against it (AWS_ENDPOINT_URL_LIGHTSAIL=standIn.url). It speaks the
// wire protocol the SDK speaks: AWS JSON 1.1 over POST /, `X-Amz-Target:
// Lightsail_20161128.<Operation>`, errors as `__type` + `message` with the `x-amzn-errortype`
// header and the service's HTTP status. Requests without a valid SigV4 signature (checked with
// the stand-in's one key pair) are refused the way AWS refuses them. Instances live in memory and go `pending` -> `running` after
// a number of polls; their public address is a real sshd the test started on loopback.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kit } from './kit.js';

export const LIGHTSAIL_TARGET_PREFIX = 'Lightsail_20161128.';

export interface LightsailStandInOptions {
  /** Where every instance's "VM" answers SSH (the sshd harness address). */
  sshHost: string;
  sshPort: number;
  /**
   * The "VM"'s SSH host public keys (`ssh-ed25519 AAAA...`, the sshd harness's hostPublicKey):
   * what GetInstanceAccessDetails reports as the instance's `hostKeys`. Default: none (as AWS
   * before it has seen the instance's keys).
   */
  hostKeys?: string[];
  /** Polls of an instance (GetInstance/GetInstances) that still see it `pending`. Default 2. */
  pendingPolls?: number;
  /** Instances per GetInstances page, small so tests exercise pagination. Default 2. */
  pageSize?: number;
  /** Regions that exist; a request signed for another one is refused. */
  regions?: string[];
  /** The key pair allowed every operation; signatures are verified with it. Default: STAND_IN_CREDENTIALS. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * More key pairs, each allowed only the operations listed (as an IAM policy would): any other
   * operation signed with one is an AccessDeniedException.
   */
  limitedCredentials?: { accessKeyId: string; secretAccessKey: string; operations: string[] }[];
  /** The address it listens on. Default 127.0.0.1; 0.0.0.0 lets the machine's containers reach it as host.docker.internal. */
  listen?: string;
}

export const STAND_IN_CREDENTIALS = { accessKeyId: 'AKIAPREVUSTANDIN0000', secretAccessKey: 'prevu-stand-in-secret' };

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** SigV4 as AWS computes it (POST /, no query string), to compare with the client's signature. */
function sigV4(req: IncomingMessage, body: Buffer, secret: string, scope: { date: string; region: string; service: string }, signedHeaders: string[]): string {
  const headers = signedHeaders.map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, new URL(req.url ?? '/', 'http://x').pathname, '', headers, signedHeaders.join(';'), sha256(body)].join('\n');
  const credentialScope = `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', String(req.headers['x-amz-date']), credentialScope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${secret}`, scope.date);
  for (const part of [scope.region, scope.service, 'aws4_request']) key = hmac(key, part);
  return createHmac('sha256', key).update(toSign).digest('hex');
}

export interface StandInCall {
  operation: string;
  input: Record<string, unknown>;
  /** The HTTP status the stand-in answered. */
  status: number;
  /** Region of the SigV4 credential scope. */
  region?: string;
  /** The access key that signed it (a known one). */
  accessKeyId?: string;
}

interface Tag {
  key: string;
  value?: string;
}

export interface StandInInstance {
  name: string;
  arn: string;
  createdAt: number;
  location: { availabilityZone: string; regionName: string };
  blueprintId: string;
  bundleId: string;
  keyPairName?: string;
  userData: string;
  tags: Tag[];
  state: 'pending' | 'running';
  polls: number;
  openPorts: { fromPort: number; toPort: number; protocol: string }[];
}

interface Failure {
  errorType: string;
  message: string;
  remaining: number;
}

class AwsError extends Error {
  readonly status: number;
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.status = statusOf(type);
  }
}

// The HTTP status AWS answers each error code with: Lightsail's own exceptions as its service
// model gives them (@httpError in @aws-sdk/client-lightsail), the common ones of AWS JSON 1.1
// services as AWS's common-errors reference does. The SDK decides on `__type`; its retries also
// look at 5xx and 429.
const STATUS: Record<string, number> = {
  AccessDeniedException: 403,
  AccountSetupInProgressException: 428,
  InvalidInputException: 400,
  NotFoundException: 404,
  OperationFailureException: 400,
  RegionSetupInProgressException: 428,
  ServiceException: 500,
  UnauthenticatedException: 401,
  IncompleteSignatureException: 400,
  InvalidSignatureException: 400,
  MissingAuthenticationTokenException: 403,
  ThrottlingException: 400,
  UnknownOperationException: 400,
  UnrecognizedClientException: 400,
};
const statusOf = (errorType: string) => {
  const status = STATUS[errorType];
  if (!status) throw new Error(`the Lightsail stand-in does not know the AWS error code ${errorType}`);
  return status;
};

const defaultRegions = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-north-1', 'ap-south-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-southeast-1', 'ap-southeast-2', 'ca-central-1'];
const knownBundles = ['nano_3_0', 'micro_3_0', 'small_3_0', 'medium_3_0', 'large_3_0'];
const knownBlueprints = ['debian_12', 'debian_11', 'ubuntu_22_04', 'ubuntu_24_04'];

export type LightsailStandIn = Awaited<ReturnType<typeof startLightsailStandIn>>;

export async function startLightsailStandIn(kit: Kit, options: LightsailStandInOptions) {
  const regions = options.regions ?? defaultRegions;
  const credentials = options.credentials ?? STAND_IN_CREDENTIALS;
  const keys = new Map<string, { secretAccessKey: string; operations?: string[] }>([
    [credentials.accessKeyId, { secretAccessKey: credentials.secretAccessKey }],
    ...(options.limitedCredentials ?? []).map((c) => [c.accessKeyId, { secretAccessKey: c.secretAccessKey, operations: c.operations }] as const),
  ]);
  const pageSize = options.pageSize ?? 2;
  const instances = new Map<string, StandInInstance>();
  const keyPairs = new Map<string, { name: string; publicKey: string; createdAt: number; region: string }>();
  const failures = new Map<string, Failure[]>();
  const calls: StandInCall[] = [];
  const state = { pendingPolls: options.pendingPolls ?? 2, hostKeys: options.hostKeys ?? [] };
  const now = () => Date.now() / 1000;

  const operationResult = (resourceName: string, operationType: string, region: string) => ({
    id: randomUUID(),
    resourceName,
    resourceType: operationType.includes('KeyPair') ? 'KeyPair' : 'Instance',
    createdAt: now(),
    location: { availabilityZone: 'all', regionName: region },
    isTerminal: true,
    operationType,
    status: 'Succeeded',
    statusChangedAt: now(),
  });

  const poll = (instance: StandInInstance) => {
    instance.polls += 1;
    if (instance.state === 'pending' && instance.polls > state.pendingPolls) instance.state = 'running';
  };

  const view = (i: StandInInstance) => ({
    name: i.name,
    arn: i.arn,
    supportCode: `${i.name}/support`,
    createdAt: i.createdAt,
    location: i.location,
    resourceType: 'Instance',
    tags: i.tags,
    blueprintId: i.blueprintId,
    blueprintName: 'Debian',
    bundleId: i.bundleId,
    isStaticIp: false,
    privateIpAddress: '172.26.0.10',
    // A pending instance has no public address yet, as on AWS.
    ...(i.state === 'running' ? { publicIpAddress: options.sshHost } : {}),
    ipAddressType: 'ipv4',
    state: i.state === 'running' ? { code: 16, name: 'running' } : { code: 0, name: 'pending' },
    username: 'admin',
    sshKeyName: i.keyPairName,
  });

  const need = (input: Record<string, unknown>, field: string): string => {
    const value = input[field];
    if (typeof value !== 'string' || !value) throw new AwsError('InvalidInputException', `${field} is required`);
    return value;
  };

  /** One page of a list, `pageToken` being the offset as a string (AWS's tokens are opaque). */
  const paged = <T>(items: T[], input: Record<string, unknown>): { page: T[]; nextPageToken?: string } => {
    const start = input.pageToken === undefined ? 0 : Number(input.pageToken);
    if (!Number.isInteger(start) || start < 0) throw new AwsError('InvalidInputException', 'pageToken is not valid');
    const next = start + pageSize < items.length ? String(start + pageSize) : undefined;
    return { page: items.slice(start, start + pageSize), ...(next ? { nextPageToken: next } : {}) };
  };

  const handlers: Record<string, (input: Record<string, unknown>, region: string) => unknown> = {
    GetRegions(input) {
      return {
        regions: regions.map((name) => ({
          name,
          displayName: name,
          continentCode: name.split('-')[0]!.toUpperCase(),
          ...(input.includeAvailabilityZones ? { availabilityZones: ['a', 'b', 'c'].map((z) => ({ zoneName: `${name}${z}`, state: 'available' })) } : {}),
        })),
      };
    },
    GetBundles(input) {
      const { page, nextPageToken } = paged(knownBundles, input);
      return { bundles: page.map((bundleId) => ({ bundleId, isActive: true, name: bundleId, supportedPlatforms: ['LINUX_UNIX'] })), ...(nextPageToken ? { nextPageToken } : {}) };
    },
    GetBlueprints(input) {
      const { page, nextPageToken } = paged(knownBlueprints, input);
      return { blueprints: page.map((blueprintId) => ({ blueprintId, isActive: true, name: blueprintId, platform: 'LINUX_UNIX', type: 'os' })), ...(nextPageToken ? { nextPageToken } : {}) };
    },
    GetKeyPair(input) {
      const name = need(input, 'keyPairName');
      const pair = keyPairs.get(name);
      if (!pair) throw new AwsError('NotFoundException', `The KeyPair does not exist: ${name}`);
      return { keyPair: { name, arn: `arn:aws:lightsail:${pair.region}:000000000000:KeyPair/${name}`, createdAt: pair.createdAt, resourceType: 'KeyPair', location: { regionName: pair.region } } };
    },
    ImportKeyPair(input, region) {
      const name = need(input, 'keyPairName');
      const publicKey = need(input, 'publicKeyBase64');
      if (keyPairs.has(name)) throw new AwsError('InvalidInputException', `Some names are already in use: ${name}`);
      keyPairs.set(name, { name, publicKey, createdAt: now(), region });
      return { operation: operationResult(name, 'ImportKeyPair', region) };
    },
    CreateInstances(input, region) {
      const names = input.instanceNames;
      if (!Array.isArray(names) || names.length === 0) throw new AwsError('InvalidInputException', 'instanceNames is required');
      const availabilityZone = need(input, 'availabilityZone');
      const bundleId = need(input, 'bundleId');
      const blueprintId = need(input, 'blueprintId');
      if (!availabilityZone.startsWith(region)) throw new AwsError('InvalidInputException', `The availability zone ${availabilityZone} is not valid in ${region}`);
      if (!knownBundles.includes(bundleId)) throw new AwsError('InvalidInputException', `The bundle ID "${bundleId}" is not valid`);
      if (!knownBlueprints.includes(blueprintId)) throw new AwsError('InvalidInputException', `The blueprint ID "${blueprintId}" is not valid`);
      const keyPairName = input.keyPairName as string | undefined;
      if (keyPairName && !keyPairs.has(keyPairName)) throw new AwsError('NotFoundException', `The KeyPair does not exist: ${keyPairName}`);
      for (const name of names as string[]) {
        if (instances.has(name)) throw new AwsError('InvalidInputException', `Some names are already in use: ${name}`);
      }
      return {
        operations: (names as string[]).map((name) => {
          instances.set(name, {
            name,
            arn: `arn:aws:lightsail:${region}:000000000000:Instance/${randomUUID()}`,
            createdAt: now(),
            location: { availabilityZone, regionName: region },
            blueprintId,
            bundleId,
            ...(keyPairName ? { keyPairName } : {}),
            userData: typeof input.userData === 'string' ? input.userData : '',
            tags: Array.isArray(input.tags) ? (input.tags as Tag[]) : [],
            state: 'pending',
            polls: 0,
            openPorts: [{ fromPort: 22, toPort: 22, protocol: 'tcp' }],
          });
          return operationResult(name, 'CreateInstance', region);
        }),
      };
    },
    GetInstance(input) {
      const name = need(input, 'instanceName');
      const instance = instances.get(name);
      if (!instance) throw new AwsError('NotFoundException', `The Instance does not exist: ${name}`);
      poll(instance);
      return { instance: view(instance) };
    },
    GetInstances(input) {
      const { page, nextPageToken } = paged([...instances.values()], input);
      for (const instance of page) poll(instance);
      return { instances: page.map(view), ...(nextPageToken ? { nextPageToken } : {}) };
    },
    // AWS's answer also carries a temporary key pair (privateKey, certKey) for its browser SSH
    // client; prevu reads only hostKeys, so the stand-in leaves those out.
    GetInstanceAccessDetails(input) {
      const name = need(input, 'instanceName');
      const instance = instances.get(name);
      if (!instance) throw new AwsError('NotFoundException', `The Instance does not exist: ${name}`);
      if (instance.state !== 'running') throw new AwsError('InvalidInputException', `The instance ${name} is not running`);
      const protocol = (input.protocol as string | undefined) ?? 'ssh';
      return {
        accessDetails: {
          instanceName: name,
          ipAddress: options.sshHost,
          protocol,
          username: 'admin',
          expiresAt: now() + 43_200,
          hostKeys: state.hostKeys.map((line) => {
            const [algorithm, publicKey] = line.trim().split(/\s+/) as [string, string];
            const blob = Buffer.from(publicKey, 'base64');
            const fingerprint = (hash: string) => createHash(hash).update(blob).digest('base64').replace(/=+$/, '');
            return { algorithm, publicKey, witnessedAt: now(), fingerprintSHA1: `SHA1:${fingerprint('sha1')}`, fingerprintSHA256: `SHA256:${fingerprint('sha256')}` };
          }),
        },
      };
    },
    OpenInstancePublicPorts(input, region) {
      const name = need(input, 'instanceName');
      const instance = instances.get(name);
      if (!instance) throw new AwsError('NotFoundException', `The Instance does not exist: ${name}`);
      const port = input.portInfo as { fromPort: number; toPort: number; protocol: string };
      instance.openPorts.push(port);
      return { operation: operationResult(name, 'OpenInstancePublicPorts', region) };
    },
    DeleteInstance(input, region) {
      const name = need(input, 'instanceName');
      if (!instances.delete(name)) throw new AwsError('NotFoundException', `The Instance does not exist: ${name}`);
      return { operations: [operationResult(name, 'DeleteInstance', region)] };
    },
  };

  const send = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
      ...(errorType ? { 'x-amzn-errortype': `${errorType}:http://internal.amazon.com/coral/com.amazonaws.lightsail/` } : {}),
    });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(LIGHTSAIL_TARGET_PREFIX) ? target.slice(LIGHTSAIL_TARGET_PREFIX.length) : target;
    let input: Record<string, unknown> = {};
    const call: StandInCall = { operation, input, status: 200 };
    calls.push(call);
    const fail = (error: AwsError) => {
      call.status = error.status;
      send(res, error.status, { __type: error.type, message: error.message }, error.type);
    };
    try {
      // SigV4: `AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/lightsail/aws4_request, SignedHeaders=..., Signature=...`
      const auth = String(req.headers.authorization ?? '');
      const scope = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
      if (!scope) throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
      if (!req.headers['x-amz-date']) throw new AwsError('IncompleteSignatureException', 'Authorization header requires existence of either a X-Amz-Date or a Date header');
      const [, accessKeyId, date, region, service, signedHeaders, signature] = scope as unknown as string[] as [string, string, string, string, string, string, string];
      call.region = region;
      if (service !== 'lightsail') throw new AwsError('InvalidSignatureException', `Credential should be scoped to correct service: 'lightsail'.`);
      if (!regions.includes(region)) throw new AwsError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${region}'.`);
      const signer = keys.get(accessKeyId);
      if (!signer) throw new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
      call.accessKeyId = accessKeyId;
      if (sigV4(req, Buffer.concat(chunks), signer.secretAccessKey, { date, region, service }, signedHeaders.split(';')) !== signature) {
        throw new AwsError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
      }
      if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
        throw new AwsError('UnknownOperationException', 'Lightsail speaks AWS JSON 1.1: POST with application/x-amz-json-1.1');
      }
      input = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
      call.input = input;
      const handler = handlers[operation];
      if (!handler) throw new AwsError('UnknownOperationException', `Unknown operation ${target}`);
      if (signer.operations && !signer.operations.includes(operation)) {
        throw new AwsError('AccessDeniedException', `User: arn:aws:iam::000000000000:user/${accessKeyId} is not authorized to perform: lightsail:${operation}`);
      }
      const queued = failures.get(operation)?.[0];
      if (queued) {
        if (--queued.remaining <= 0) failures.get(operation)!.shift();
        throw new AwsError(queued.errorType, queued.message);
      }
      send(res, 200, handler(input, region));
    } catch (error) {
      if (error instanceof AwsError) fail(error);
      else fail(new AwsError('ServiceException', (error as Error).message));
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.listen ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  kit.defer('lightsail stand-in', () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    /** Every request in arrival order (refused ones too). */
    calls,
    /** Operation names of the calls so far, in order. */
    operations: () => calls.map((c) => c.operation),
    instances: () => [...instances.values()],
    keyPairs: () => [...keyPairs.values()],
    /** The next `count` calls of `operation` answer this AWS error instead. */
    failNext(operation: string, errorType: string, count = 1, message = `${errorType} (injected by the stand-in)`) {
      statusOf(errorType); // only codes AWS answers with
      const queue = failures.get(operation) ?? [];
      queue.push({ errorType, message, remaining: count });
      failures.set(operation, queue);
    },
    /** What GetInstanceAccessDetails reports as the host keys from now on (a MITM test gives others). */
    setHostKeys(lines: string[]) {
      state.hostKeys = lines;
    },
    /** How many polls a new (or still pending) instance stays `pending`; Infinity: forever. */
    setPendingPolls(polls: number) {
      state.pendingPolls = polls;
    },
    /** Environment that points the SDK at the stand-in with fake credentials. */
    env(region = 'us-east-1'): Record<string, string> {
      return {
        AWS_ENDPOINT_URL_LIGHTSAIL: `http://127.0.0.1:${port}`,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_REGION: region,
        // The default provider chain would ask the EC2 metadata service last: never off loopback.
        AWS_EC2_METADATA_DISABLED: 'true',
      };
    },
    sshHost: options.sshHost,
    sshPort: options.sshPort,
  };
}
