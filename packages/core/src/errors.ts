// The catalogue of errors prevu reports: a stable code, one line saying what was wrong and what
// to do, and an exit code with a meaning (1: the user can fix it, 2: the environment is wrong).
export const ExitCode = { ok: 0, user: 1, environment: 2, interrupted: 130 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorKind = 'user' | 'environment';

export class PrevuError extends Error {
  override name = 'PrevuError';
  constructor(
    readonly code: string,
    message: string,
    readonly fix: string,
    readonly kind: ErrorKind = 'user',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get exitCode(): ExitCode {
    return this.kind === 'user' ? ExitCode.user : ExitCode.environment;
  }

  /** One line: what was wrong, then what to do. */
  get line(): string {
    return this.fix ? `${this.message}: ${this.fix}` : this.message;
  }
}

type Factory<A extends unknown[]> = (...args: A) => PrevuError;
const define =
  <A extends unknown[]>(code: string, kind: ErrorKind, make: (...args: A) => [message: string, fix: string]): Factory<A> =>
  (...args) => {
    const [message, fix] = make(...args);
    return new PrevuError(code, message, fix, kind);
  };

export const errors = {
  noComposeFile: define('PREVU_NO_COMPOSE_FILE', 'user', (dir: string) => [
    `no compose file or Dockerfile in ${dir}`,
    'run prevu in a directory with compose.yaml (or a Dockerfile), or pass -f <file>',
  ]),
  missingEnv: define('PREVU_MISSING_ENV', 'user', (names: string[]) => [
    `the project expects ${names.join(', ')}, which this run does not set (--strict-env)`,
    'set them in the environment or the .env file, or deploy without --strict-env',
  ]),
  portWithCompose: define('PREVU_PORT_WITH_COMPOSE', 'user', () => [
    '--port is for a project with only a Dockerfile',
    "a compose project names its ports itself: `expose`, `ports`, or the prevu.expose label",
  ]),
  invalidCompose: define('PREVU_INVALID_COMPOSE', 'user', (detail: string) => [
    `the compose project is invalid (${detail})`,
    'fix the file; `docker compose config` shows the same error',
  ]),
  reservedService: define('PREVU_RESERVED_SERVICE', 'user', (service: string, reserved: string) => [
    `the compose service "${service}" takes the name ${reserved}, which prevu keeps for its agent`,
    'rename that service in the compose file',
  ]),
  baseDomainUnresolved: define('PREVU_BASE_DOMAIN_UNRESOLVED', 'environment', (host: string, base: string) => [
    `${host} does not resolve (ENOTFOUND): the base domain ${base} has no wildcard DNS record`,
    `add a DNS record *.${base} pointing at the tunnel server; \`prevu doctor\` checks it`,
  ]),
  certificateMismatch: define('PREVU_CERT_MISMATCH', 'environment', (base: string, names: string) => [
    `the tunnel server's certificate does not cover *.${base} (it names ${names})`,
    `give the server a certificate for *.${base} (--tls-cert/--tls-key); every URL is a name under it`,
  ]),
  certificateExpiring: define('PREVU_CERT_EXPIRING', 'environment', (base: string, daysLeft: number, until: string) => [
    daysLeft < 0 ? `the tunnel server's certificate for *.${base} expired on ${until}` : `the tunnel server's certificate for *.${base} expires in ${daysLeft} day(s) (${until})`,
    'renew it, and start the server with the new --tls-cert/--tls-key',
  ]),
  serviceNotReady: define('PREVU_SERVICE_NOT_READY', 'user', (cause: string, fix: string) => [cause, fix]),
  lastUpFailed: define('PREVU_UP_FAILED', 'user', (line: string) => [`the last up failed: ${line}`, 'fix that, then run `prevu up` again']),
  agentUnreachable: define('PREVU_AGENT_UNREACHABLE', 'environment', (envId: string, how: string) => [
    `the agent of env ${envId} is ${how}`,
    `\`prevu status --id ${envId}\` shows what its machine says; \`prevu up\` starts it again`,
  ]),
  dockerNotRunning: define('PREVU_DOCKER_DOWN', 'environment', (detail: string) => [
    `Docker is not reachable (${detail})`,
    'start Docker (or run scripts/ensure-docker.sh) and retry',
  ]),
  composeMissing: define('PREVU_COMPOSE_MISSING', 'environment', () => [
    'docker compose v2 is not installed',
    'install the Docker Compose v2 plugin (scripts/ensure-docker.sh does it on Debian)',
  ]),
  composeFailed: define('PREVU_COMPOSE_FAILED', 'user', (command: string, project: string, detail: string, fix: string) => [
    `docker compose ${command} failed for ${project} (${detail})`,
    fix,
  ]),
  tunnelServerUnreachable: define('PREVU_TUNNEL_UNREACHABLE', 'environment', (address: string, detail: string) => [
    `the tunnel server at ${address} does not answer (${detail})`,
    'check the address with `prevu doctor`, or `prevu server start` for the embedded one',
  ]),
  tunnelCommandFailed: define('PREVU_TUNNEL_COMMAND_FAILED', 'environment', (address: string, command: string, detail: string) => [
    `the tunnel server at ${address} did not carry out \`${command}\` (${detail})`,
    'an older server may not know it: `prevu server start` replaces an older embedded one; ask a remote one\'s operator to update',
  ]),
  unknownProfile: define('PREVU_UNKNOWN_PROFILE', 'user', (name: string) => [
    `no profile named "${name}"`,
    'list profiles with `prevu profile ls` or create one with `prevu init`',
  ]),
  hostKeyMismatch: define('PREVU_HOST_KEY_MISMATCH', 'user', (host: string) => [
    `the SSH host key of ${host} does not match the one recorded`,
    'if the host was rebuilt, remove its line from the profile known_hosts and retry',
  ]),
  hostKeyNotPinned: define('PREVU_HOST_KEY_MISMATCH', 'user', (host: string) => [
    `the SSH host key of ${host} is not the one pinned for it`,
    'something may sit between prevu and it: stop here; if its key changed on purpose, pin the new one (`--set hostKey=SHA256:...` for an ssh host, `--tunnel-host-key` for a tunnel server)',
  ]),
  tunnelHostKeyMismatch: define('PREVU_HOST_KEY_MISMATCH', 'user', (address: string, profileFile: string) => [
    `the SSH host key of the tunnel server ${address} does not match the one recorded`,
    `if the server was rebuilt, delete tunnelServer.hostKey from ${profileFile} and retry`,
  ]),
  sshUnreachable: define('PREVU_SSH_UNREACHABLE', 'environment', (target: string, detail: string) => [
    `cannot reach SSH at ${target} (${detail})`,
    'check the host and port, and that sshd runs there and is reachable from here',
  ]),
  sshAuthFailed: define('PREVU_SSH_AUTH_FAILED', 'user', (target: string, key: string) => [
    `${target} rejected the SSH key ${key}`,
    "add the key's public half to ~/.ssh/authorized_keys of that user on the host",
  ]),
  sshKeyInvalid: define('PREVU_SSH_KEY_INVALID', 'user', (key: string, detail: string) => [
    `the SSH private key ${key} is unusable (${detail})`,
    'give an unencrypted OpenSSH private key (ssh-keygen -t ed25519 -N "")',
  ]),
  sshFailed: define('PREVU_SSH_FAILED', 'environment', (what: string, detail: string) => [
    `${what} failed over SSH (${detail})`,
    'check the host (disk space, permissions of the SSH user) and retry',
  ]),
  uploadThroughLink: define('PREVU_UPLOAD_LINK', 'environment', (path: string) => [
    `${path} on the host is a symbolic link where prevu keeps a copy of the project's files, and prevu does not write through links`,
    'something on the host (a container writing into a bind mount?) put it there: look at it, then `prevu down` removes the env\'s files and `up` sends them again',
  ]),
  remoteDockerUnavailable: define('PREVU_REMOTE_DOCKER_DOWN', 'environment', (target: string, detail: string) => [
    `Docker on ${target} is not reachable (${detail})`,
    'install and start Docker there, and let the SSH user use its socket (root or the docker group)',
  ]),
  embeddedServerUnreachable: define('PREVU_EMBEDDED_REMOTE', 'user', (driver: string) => [
    `the embedded tunnel server runs on this machine's Docker, which the agent on the ${driver} machine cannot reach`,
    'give the profile a tunnel server the machine reaches: prevu init --driver ' + driver + ' --tunnel-server host:port',
  ]),
  artifactMissing: define('PREVU_NOT_BUILT', 'environment', (pkg: string, problem: string) => [
    `${pkg} ${problem}`,
    'reinstall prevu (npm i -g @prevu/cli); in a checkout of the prevu repository, run `npm run build`',
  ]),
  unknownEnv: define('PREVU_UNKNOWN_ENV', 'user', (envId: string) => [
    `no environment "${envId}"`,
    'see `prevu ls` for the environments of this profile',
  ]),
  invalidInput: define('PREVU_INVALID_INPUT', 'user', (what: string, fix: string) => [what, fix]),
  /** The tunnel server refused a forward: its hostname belongs to another env of the key (or another key). */
  forwardRefused: define('PREVU_FORWARD_REFUSED', 'user', (service: string, port: number, envId: string, reason: string, heldByEnv?: string) => [
    `the tunnel server refused ${service}:${port} of env "${envId}": ${reason}`,
    `remove this env with \`prevu down --id ${envId}\` and run \`prevu up --id <another id>\`${heldByEnv ? ` whose names do not run into env "${heldByEnv}"'s` : ''}`,
  ]),
  timeout: define('PREVU_TIMEOUT', 'environment', (what: string, fix: string) => [what, fix]),
  cloud: define('PREVU_CLOUD', 'environment', (what: string, fix: string) => [what, fix]),
  cloudUser: define('PREVU_CLOUD_USER', 'user', (what: string, fix: string) => [what, fix]),
  awsNoCredentials: define('PREVU_AWS_NO_CREDENTIALS', 'user', (detail: string) => [
    `no AWS credentials found (${detail})`,
    'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (after `aws sso login` for SSO)',
  ]),
  awsBadCredentials: define('PREVU_AWS_BAD_CREDENTIALS', 'user', (detail: string) => [
    `AWS rejected the credentials (${detail})`,
    'check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS_PROFILE in use (`aws sts get-caller-identity`)',
  ]),
  awsAccessDenied: define('PREVU_AWS_ACCESS_DENIED', 'user', (action: string, detail: string) => [
    `AWS denied ${action} (${detail})`,
    `allow ${action} in the IAM policy of these credentials`,
  ]),
  awsInvalidSetting: define('PREVU_AWS_INVALID_SETTING', 'user', (what: string, flag: string, list: string) => [
    `Lightsail does not accept ${what}`,
    `choose another with ${flag} (\`${list}\` lists them)`,
  ]),
  awsSignatureRefused: define('PREVU_AWS_SIGNATURE_REFUSED', 'user', (detail: string, region: string) => [
    `AWS refused the request signature (${detail})`,
    `check AWS_SECRET_ACCESS_KEY, and that Lightsail serves the region ${region} (\`aws lightsail get-regions\` lists them; --set region=<region>)`,
  ]),
  awsThrottled: define('PREVU_AWS_THROTTLED', 'environment', (action: string) => [
    `AWS kept throttling ${action} after the SDK's retries`,
    'wait a minute and retry; other tools may be using the same account heavily',
  ]),
  awsUnreachable: define('PREVU_AWS_UNREACHABLE', 'environment', (endpoint: string, detail: string) => [
    `the Lightsail API at ${endpoint} does not answer (${detail})`,
    'check the network, the region, and AWS_ENDPOINT_URL_LIGHTSAIL if set',
  ]),
  machineNotReady: define('PREVU_MACHINE_NOT_READY', 'environment', (what: string, seconds: number, fix: string) => [
    `${what} after ${seconds} s`,
    fix,
  ]),
};

export function isPrevuError(error: unknown): error is PrevuError {
  return error instanceof PrevuError;
}
