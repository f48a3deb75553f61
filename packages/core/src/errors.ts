// The catalogue of errors prevu reports: a stable code, one line saying what was wrong and what
// to do, and an exit code with a meaning (1: the user can fix it, 2: the environment is wrong,
// 130: interrupted). It is the only place codes are made (eslint.config.js keeps it so), and
// site/docs/errors.md is generated from it (site/error-reference.mjs). It imports only leaf
// modules without dependencies: the agent and the tunnel server bundle it for their start-up errors.
// Long on purpose: one entry per condition, all in one place, is what makes it a catalogue.
import { HOST_KEY_PIN_HINT } from './ssh-fingerprint.js';

export const ExitCode = { ok: 0, user: 1, environment: 2, interrupted: 130 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorKind = 'user' | 'environment' | 'interrupted';

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
    return ExitCode[this.kind];
  }

  /** One line: what was wrong, then what to do. */
  get line(): string {
    return this.fix ? `${this.message}: ${this.fix}` : this.message;
  }
}

/** A catalogue entry: makes its error, and names its code and kind for comparisons and the reference page. */
export interface Factory<A extends unknown[]> {
  (...args: A): PrevuError;
  readonly code: string;
  readonly kind: ErrorKind;
  /** The message and fix with each argument shown as <name>: the shape the reference page prints. */
  readonly shape: () => [message: string, fix: string];
}

export const define = <A extends unknown[]>(code: string, kind: ErrorKind, make: (...args: A) => [message: string, fix: string]): Factory<A> => {
  const factory = (...args: A) => {
    const [message, fix] = make(...args);
    return new PrevuError(code, message, fix, kind);
  };
  const shape = () => {
    // The parameter names of `make` as written (tsc keeps them): `(a, b) =>` or `a =>`.
    const params = /^\(?([^)=]*)\)?\s*=>/.exec(make.toString())?.[1] ?? '';
    const names = params.split(',').map((p) => p.trim()).filter(Boolean);
    return make(...(names.map((n) => `<${n}>`) as A));
  };
  return Object.assign(factory, { code, kind, shape });
};

/** Whether `error` is one of these catalogue entries. */
export const isError = (error: unknown, ...factories: Factory<never[]>[]): error is PrevuError =>
  error instanceof PrevuError && factories.some((f) => f.code === error.code);

export const errors = {
  // --- the compose project and the env ---
  noComposeFile: define('PREVU_NO_COMPOSE_FILE', 'user', (dir: string) => [
    `no compose file or Dockerfile in ${dir}`,
    'run prevu in a directory with compose.yaml (or a Dockerfile), or pass -f <file>',
  ]),
  missingEnv: define('PREVU_MISSING_ENV', 'user', (names: string) => [
    `the project expects ${names}, which this run does not set (--strict-env)`,
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
  serviceNameInvalid: define('PREVU_SERVICE_NAME_INVALID', 'user', (service: string) => [
    `the compose service "${service}" has no letters or digits, so it can have no URL`,
    'rename that service in the compose file',
  ]),
  exposeLabelInvalid: define('PREVU_EXPOSE_LABEL_INVALID', 'user', (service: string, detail: string) => [
    `the compose project is invalid (service "${service}": ${detail})`,
    'fix the label in the compose file',
  ]),
  unknownService: define('PREVU_UNKNOWN_SERVICE', 'user', (service: string, where: string, fix: string) => [
    `no service "${service}" in ${where}`,
    fix,
  ]),
  unknownEnv: define('PREVU_UNKNOWN_ENV', 'user', (envId: string) => [
    `no environment "${envId}"`,
    'see `prevu ls` for the environments of this profile',
  ]),
  /** An --id (or id input) without a letter or digit, made by envIdOf in env-id.ts. */
  envIdInvalid: define('PREVU_ENV_ID_INVALID', 'user', (id: string) => [
    `env id "${id}" has no letters or digits`,
    'pass --id with letters, digits and dashes',
  ]),
  envIdNotNormalized: define('PREVU_ENV_ID_NOT_NORMALIZED', 'user', (envId: string) => [
    `env id "${envId}" is not normalized`,
    'use [a-z0-9-] only',
  ]),
  lastUpFailed: define('PREVU_UP_FAILED', 'user', (line: string) => [`the last up failed: ${line}`, 'fix that, then run `prevu up` again']),
  /** The tunnel server refused a forward: its hostname belongs to another env of the key (or another key). */
  forwardRefused: define('PREVU_FORWARD_REFUSED', 'user', (service: string, port: number, envId: string, reason: string, heldByEnv?: string) => [
    `the tunnel server refused ${service}:${port} of env "${envId}": ${reason}`,
    `remove this env with \`prevu down --id ${envId}\` and run \`prevu up --id <another id>\`${heldByEnv ? ` whose names do not run into env "${heldByEnv}"'s` : ''}`,
  ]),
  /** The agent's own diagnosis of a service (its cause and fix come from the agent). */
  serviceNotReady: define('PREVU_SERVICE_NOT_READY', 'user', (cause: string, fix: string) => [cause, fix]),
  servicesNotHealthy: define('PREVU_SERVICES_TIMEOUT', 'environment', (seconds: number, detail: string, envId: string) => [
    `the services were not healthy after ${seconds} s (${detail})`,
    `raise --wait-timeout for slow services, or see \`prevu logs --id ${envId}\`; \`prevu down --id ${envId}\` removes the env`,
  ]),
  urlsNotReady: define('PREVU_URLS_TIMEOUT', 'environment', (seconds: number, last: string) => [
    `the URLs were not ready after ${seconds} s (${last})`,
    'see `prevu status` and `prevu logs`; raise --wait-timeout for slow services',
  ]),
  sharePasswordPublic: define('PREVU_SHARE_PASSWORD_PUBLIC', 'user', (profile: string) => [
    `profile "${profile}" is public: its URLs open without a password`,
    'make the environment private (`prevu profile create <name> --private`), or share without --password',
  ]),
  sharePasswordShort: define('PREVU_SHARE_PASSWORD_SHORT', 'user', (min: number) => [
    `a share password needs at least ${min} characters`,
    'choose a longer one',
  ]),

  // --- Docker and compose ---
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
  composeLogsFailed: define('PREVU_COMPOSE_LOGS_FAILED', 'user', (detail: string) => [
    `docker compose logs failed (${detail})`,
    'check `prevu status`',
  ]),
  dockerCommandFailed: define('PREVU_DOCKER_FAILED', 'environment', (command: string, detail: string) => [
    `docker ${command} failed (${detail})`,
    'check that Docker works (`prevu doctor`), then retry; run with --debug for the full output',
  ]),
  artifactMissing: define('PREVU_NOT_BUILT', 'environment', (pkg: string, problem: string) => [
    `${pkg} ${problem}`,
    'reinstall prevu (npm i -g @prevu/cli); in a checkout of the prevu repository, run `npm run build`',
  ]),

  // --- the tunnel server ---
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
    'renew it: the server serves renewed --tls-cert/--tls-key files without a restart',
  ]),
  tunnelServerUnreachable: define('PREVU_TUNNEL_UNREACHABLE', 'environment', (address: string, detail: string) => [
    `the tunnel server at ${address} does not answer (${detail})`,
    'check the address with `prevu doctor`, or `prevu server start` for the embedded one',
  ]),
  tunnelCommandFailed: define('PREVU_TUNNEL_COMMAND_FAILED', 'environment', (address: string, command: string, detail: string) => [
    `the tunnel server at ${address} did not carry out \`${command}\` (${detail})`,
    'an older server may not know it: `prevu server start` replaces an older embedded one; ask a remote one\'s operator to update',
  ]),
  tunnelAuthRefused: define('PREVU_TUNNEL_AUTH', 'user', (address: string) => [
    `the tunnel server at ${address} refused the account key`,
    'ask its operator to allow the key in `prevu profile ls`, or use another profile',
  ]),
  accountMismatch: define('PREVU_ACCOUNT_MISMATCH', 'environment', (server: string, local: string) => [
    `the tunnel server derived account ${server} from the key, prevu ${local}`,
    'update prevu or the tunnel server so their names module matches',
  ]),
  embeddedServerUnreachable: define('PREVU_EMBEDDED_REMOTE', 'user', (driver: string) => [
    `the embedded tunnel server runs on this machine's Docker, which the agent on the ${driver} machine cannot reach`,
    'give the profile a tunnel server the machine reaches: prevu init --driver ' + driver + ' --tunnel-server host:port',
  ]),
  embeddedNotRunning: define('PREVU_EMBEDDED_NOT_RUNNING', 'user', (envId: string) => [
    `the embedded tunnel server is not running, so env "${envId}" is not reachable`,
    '`prevu up` deploys it (and starts the server); `prevu server start` starts the server for envs already deployed',
  ]),
  embeddedPortInUse: define('PREVU_EMBEDDED_PORT_IN_USE', 'user', (port: number, name: string) => [
    `port ${port} on 127.0.0.1 is in use, the embedded tunnel server cannot take it`,
    `stop what uses it, or set PREVU_EMBEDDED_${name}_PORT to a free port`,
  ]),
  embeddedPortInvalid: define('PREVU_EMBEDDED_PORT_INVALID', 'user', (name: string, raw: string) => [
    `${name}=${raw} is not a port`,
    `set ${name} to a number from 1 to 65535, or unset it`,
  ]),
  embeddedNameInvalid: define('PREVU_EMBEDDED_NAME_INVALID', 'user', (container: string) => [
    `PREVU_EMBEDDED_NAME=${container} is not a container name`,
    'use letters, digits, "_", "." or "-"',
  ]),

  // --- the agent ---
  agentUnreachable: define('PREVU_AGENT_UNREACHABLE', 'environment', (envId: string, how: string) => [
    `the agent of env ${envId} is ${how}`,
    `\`prevu status --id ${envId}\` shows what its machine says; \`prevu up\` starts it again`,
  ]),
  agentNotAnswering: define('PREVU_AGENT_TIMEOUT', 'environment', (envId: string) => [
    `the agent of ${envId} does not answer through the tunnel server`,
    `see \`prevu status --id ${envId}\`; \`prevu up\` restarts it`,
  ]),
  agentAnswerMalformed: define('PREVU_AGENT_PROTOCOL', 'user', (path: string, detail: string) => [
    `the agent answered ${path} with an unexpected shape (${detail})`,
    'update prevu so the CLI and the agent match',
  ]),

  // --- profiles and prevu's own files ---
  unknownProfile: define('PREVU_UNKNOWN_PROFILE', 'user', (name: string) => [
    `no profile named "${name}"`,
    'list profiles with `prevu profile ls` or create one with `prevu init`',
  ]),
  profileNameInvalid: define('PREVU_PROFILE_NAME_INVALID', 'user', (name: string) => [
    `profile name "${name}" is not valid`,
    'use 1-40 lowercase letters, digits, "-" or "_"',
  ]),
  profileExists: define('PREVU_PROFILE_EXISTS', 'user', (name: string) => [
    `profile "${name}" already exists`,
    `use it with --profile ${name}, or remove it first with \`prevu profile rm ${name}\``,
  ]),
  profileInvalid: define('PREVU_PROFILE_INVALID', 'user', (name: string, detail: string, file: string) => [
    `profile "${name}" is invalid (${detail})`,
    `fix ${file} or recreate it with \`prevu profile rm ${name}\` and \`prevu init\``,
  ]),
  profileHasEnvs: define('PREVU_PROFILE_HAS_ENVS', 'user', (name: string, count: number, envIds: string) => [
    `profile ${name} still has ${count} env(s) (${envIds})`,
    `remove them first with \`prevu purge --profile ${name}\``,
  ]),
  profileNoKey: define('PREVU_PROFILE_NO_KEY', 'user', (name: string, file: string) => [
    `profile "${name}" has no account key (${file})`,
    `recreate it: \`prevu profile rm ${name}\` then \`prevu init\``,
  ]),
  accountKeyUnreadable: define('PREVU_ACCOUNT_KEY_UNREADABLE', 'user', (detail: string) => [
    `the account key is unreadable (${detail})`,
    'recreate the profile with `prevu init`',
  ]),
  keyReadableByOthers: define('PREVU_KEY_MODE', 'user', (file: string, mode: string) => [
    `${file} is readable by others (mode ${mode})`,
    `chmod 600 ${file}`,
  ]),
  configInvalid: define('PREVU_CONFIG_INVALID', 'user', (file: string) => [`${file} is not a prevu config`, 'fix or delete it']),
  jsonInvalid: define('PREVU_JSON_INVALID', 'user', (file: string, detail: string) => [`${file} is not valid JSON (${detail})`, 'fix or delete it']),
  unknownDriver: define('PREVU_UNKNOWN_DRIVER', 'user', (profile: string, driver: string, known: string) => [
    `profile "${profile}" uses the unknown driver "${driver}"`,
    `use one of: ${known}`,
  ]),

  // --- CLI flags that oclif cannot check ---
  setNotKeyValue: define('PREVU_SET_NOT_KEY_VALUE', 'user', (pair: string) => [
    `--set ${pair} is not key=value`,
    'write it like --set host=user@example.com:22',
  ]),
  tunnelAddressInvalid: define('PREVU_TUNNEL_ADDRESS_INVALID', 'user', (flag: string, address: string) => [
    `${flag} ${address} is not host:port or tls://host:port (a port from 1 to 65535)`,
    'pass the SSH address of the tunnel server, e.g. tunnel.example.com:2222, or its HTTPS port for SSH over TLS, e.g. tls://ssh.example.com:443',
  ]),
  tunnelPinWithoutServer: define('PREVU_TUNNEL_PIN_WITHOUT_SERVER', 'user', () => [
    '--tunnel-host-key needs --tunnel-server',
    'the embedded server runs on this machine: nothing to pin',
  ]),
  hostKeyPinInvalid: define('PREVU_HOST_KEY_PIN_INVALID', 'user', (pin: string) => [
    `--tunnel-host-key "${pin}" is not a host key`,
    HOST_KEY_PIN_HINT,
  ]),
  reportNeedsResult: define('PREVU_REPORT_NEEDS_RESULT', 'user', () => [
    '`prevu github report up` needs the URL table',
    'pass --result with the output of `prevu up --json`',
  ]),
  reportNoEnvId: define('PREVU_REPORT_NO_ENV_ID', 'user', () => ['no env id to report', 'pass --id (outside a pull request there is no default)']),
  upResultUnreadable: define('PREVU_UP_RESULT_UNREADABLE', 'user', (file: string, detail: string) => [
    `${file} cannot be read (${detail})`,
    'pass the file `prevu up --json` was written to, or - for stdin',
  ]),
  upResultInvalid: define('PREVU_UP_RESULT_INVALID', 'user', (source: string) => [`${source} holds no URL table`, 'pass what `prevu up --json` printed']),

  // --- SSH and the ssh driver ---
  hostKeyMismatch: define('PREVU_HOST_KEY_MISMATCH', 'user', (host: string) => [
    `the SSH host key of ${host} does not match the one recorded`,
    'if the host was rebuilt, remove its line from the profile known_hosts and retry',
  ]),
  hostKeyNotPinned: define('PREVU_HOST_KEY_NOT_PINNED', 'user', (host: string) => [
    `the SSH host key of ${host} is not the one pinned for it`,
    'something may sit between prevu and it: stop here; if its key changed on purpose, pin the new one (`--set hostKey=SHA256:...` for an ssh host, `--tunnel-host-key` for a tunnel server)',
  ]),
  tunnelHostKeyMismatch: define('PREVU_TUNNEL_HOST_KEY_MISMATCH', 'user', (address: string, profileFile: string) => [
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
  sshHostInvalid: define('PREVU_SSH_HOST_INVALID', 'user', (spec: string) => [
    `ssh host "${spec}" is not user@host:port`,
    'pass --host like root@203.0.113.7:22',
  ]),
  sshUserInvalid: define('PREVU_SSH_USER_INVALID', 'user', (user: string) => [
    `ssh user "${user}" is not a Unix user name`,
    'pass --host like root@203.0.113.7:22',
  ]),
  sshPortInvalid: define('PREVU_SSH_PORT_INVALID', 'user', (port: number) => [
    `ssh port ${port} is out of range`,
    'pass a port between 1 and 65535',
  ]),
  sshSettingInvalid: define('PREVU_SSH_SETTING_INVALID', 'user', (field: string, detail: string, flag: string) => [
    `invalid ssh setting ${field} (${detail})`,
    `fix it with \`prevu init --driver ssh --${flag} ...\``,
  ]),
  uploadThroughLink: define('PREVU_UPLOAD_LINK', 'environment', (path: string) => [
    `${path} on the host is a symbolic link where prevu keeps a copy of the project's files, and prevu does not write through links`,
    'something on the host (a container writing into a bind mount?) put it there: look at it, then `prevu down` removes the env\'s files and `up` sends them again',
  ]),
  uploadPathRelative: define('PREVU_UPLOAD_PATH_RELATIVE', 'user', (path: string) => [`upload path ${path} is not absolute`, 'pass absolute paths']),
  remoteDockerUnavailable: define('PREVU_REMOTE_DOCKER_DOWN', 'environment', (target: string, detail: string) => [
    `Docker on ${target} is not reachable (${detail})`,
    'install and start Docker there, and let the SSH user use its socket (root or the docker group)',
  ]),
  machineNotReady: define('PREVU_MACHINE_NOT_READY', 'environment', (what: string, seconds: number, fix: string) => [
    `${what} after ${seconds} s`,
    fix,
  ]),

  // --- AWS Lightsail ---
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
  awsNoRegion: define('PREVU_AWS_NO_REGION', 'user', () => [
    'no AWS region for the lightsail driver',
    'set AWS_REGION, or the profile setting with `--set region=us-east-1`',
  ]),
  lightsailSettingInvalid: define('PREVU_LIGHTSAIL_SETTING_INVALID', 'user', (field: string, detail: string) => [
    `invalid lightsail setting ${field} (${detail})`,
    `set it with \`prevu init --driver lightsail --set ${field}=...\` (or edit the profile's driverOptions)`,
  ]),
  lightsailRefused: define('PREVU_LIGHTSAIL_REFUSED', 'user', (operation: string, detail: string, settings: string) => [
    `Lightsail refused ${operation} (${detail})`,
    `check the profile's lightsail settings (${settings})`,
  ]),
  lightsailFailed: define('PREVU_LIGHTSAIL_FAILED', 'environment', (operation: string, detail: string) => [
    `Lightsail failed ${operation} (${detail})`,
    'retry; if it persists, check the AWS Health Dashboard and the account\'s Lightsail quotas',
  ]),
  lightsailSettingUp: define('PREVU_LIGHTSAIL_SETTING_UP', 'environment', (detail: string) => [
    `Lightsail is still setting up this account or region (${detail})`,
    'wait a few minutes and retry',
  ]),
  lightsailError: define('PREVU_LIGHTSAIL_ERROR', 'environment', (operation: string, detail: string) => [
    `Lightsail failed ${operation} (${detail})`,
    'retry; run with --debug for the full error',
  ]),
  lightsailInstanceStopped: define('PREVU_LIGHTSAIL_INSTANCE_STATE', 'user', (name: string, state: string) => [
    `Lightsail instance ${name} is ${state}`,
    'start it in the Lightsail console, or `prevu down` to delete it and `prevu up` again',
  ]),

  // --- Kubernetes and the kube driver ---
  kubeSettingInvalid: define('PREVU_KUBE_SETTING_INVALID', 'user', (field: string, detail: string) => [
    `invalid kube setting ${field} (${detail})`,
    `set it with \`prevu init --driver kube --set ${field}=...\` (or edit the profile's driverOptions)`,
  ]),
  kubeConfigUnusable: define('PREVU_KUBE_CONFIG', 'user', (source: string, detail: string) => [
    `the kubeconfig ${source} is unusable (${detail})`,
    'point --set kubeconfig=<file> (or KUBECONFIG) at a kubeconfig with a current context, or pick one with --set context=<name>',
  ]),
  kubeContextUnknown: define('PREVU_KUBE_CONTEXT_UNKNOWN', 'user', (context: string, known: string) => [
    `the kubeconfig has no context "${context}" (it has: ${known})`,
    'choose one with --set context=<name> (`kubectl config get-contexts` lists them)',
  ]),
  kubePodTemplateInvalid: define('PREVU_KUBE_POD_TEMPLATE_INVALID', 'user', (path: string, detail: string) => [
    `the pod template ${path} is not usable (${detail})`,
    'give a Pod manifest (YAML or JSON) whose spec has the engine container (--set container=<name>); site/docs/drivers.md shows one',
  ]),
  kubeForbidden: define('PREVU_KUBE_FORBIDDEN', 'user', (verb: string, resource: string, namespace: string) => [
    `Kubernetes denied "${verb}" on ${resource} in the namespace ${namespace}`,
    `grant the kubeconfig's user the verb ${verb} on ${resource} there (a Role with every verb the kube driver needs is in site/docs/drivers.md)`,
  ]),
  kubeUnauthorized: define('PREVU_KUBE_UNAUTHORIZED', 'user', (server: string) => [
    `the Kubernetes API at ${server} refused the kubeconfig's credentials (401)`,
    'renew them (log in to the cluster again) or choose another context with --set context=<name>',
  ]),
  kubeNamespaceMissing: define('PREVU_KUBE_NAMESPACE_MISSING', 'user', (namespace: string) => [
    `the namespace ${namespace} does not exist`,
    `create it (\`kubectl create namespace ${namespace}\`) or choose another with --set namespace=<name>`,
  ]),
  kubeUnreachable: define('PREVU_KUBE_UNREACHABLE', 'environment', (server: string, detail: string) => [
    `the Kubernetes API at ${server} does not answer (${detail})`,
    'check the network and the kubeconfig\'s cluster address (`kubectl cluster-info`)',
  ]),
  kubeFailed: define('PREVU_KUBE_FAILED', 'environment', (operation: string, detail: string) => [
    `Kubernetes failed ${operation} (${detail})`,
    'retry; run with --debug for the full error',
  ]),
  kubePodFailed: define('PREVU_KUBE_POD_FAILED', 'environment', (pod: string, detail: string) => [
    `the env's pod ${pod} cannot run (${detail})`,
    'fix the pod template or image (`kubectl describe pod` tells more), then `prevu down` and `prevu up` again',
  ]),
  kubeExecFailed: define('PREVU_KUBE_EXEC_FAILED', 'environment', (what: string, pod: string, detail: string) => [
    `${what} in the pod ${pod} failed (${detail})`,
    'the engine container needs sh and tar (the docker:dind image has them); retry, or `prevu down` and `prevu up` again',
  ]),

  // --- GitHub, CI and the Action ---
  githubFailed: define('PREVU_GITHUB_FAILED', 'environment', (doing: string, detail: string) => [`${doing} failed (${detail})`, 'retry with --debug and report it']),
  githubUnreachable: define('PREVU_GITHUB_UNREACHABLE', 'environment', (apiUrl: string, detail: string) => [
    `the GitHub API at ${apiUrl} does not answer (${detail})`,
    'check the network and GITHUB_API_URL',
  ]),
  githubBadToken: define('PREVU_GITHUB_BAD_TOKEN', 'user', (doing: string, detail: string) => [
    `GitHub rejected the token while ${doing} (401 ${detail})`,
    'pass a valid token as the github-token input or GITHUB_TOKEN (secrets.GITHUB_TOKEN in a workflow)',
  ]),
  githubRateLimited: define('PREVU_GITHUB_RATE_LIMITED', 'environment', (doing: string) => [
    `GitHub's rate limit is used up (${doing})`,
    'wait until it resets or use a token with a higher limit',
  ]),
  githubPermission: define('PREVU_GITHUB_PERMISSION', 'user', (doing: string, permission: string, detail: string) => [
    `GitHub denied ${doing}: the token lacks \`${permission}\` (403 ${detail})`,
    `add \`${permission}\` under \`permissions:\` in the workflow job (or grant it to the token)`,
  ]),
  githubNotFound: define('PREVU_GITHUB_NOT_FOUND', 'user', (doing: string, detail: string) => [
    `GitHub answered 404 while ${doing} (${detail})`,
    'check GITHUB_REPOSITORY and the PR number; a token without access to a private repository also sees 404',
  ]),
  githubStatus: define('PREVU_GITHUB', 'environment', (status: number, doing: string, detail: string) => [
    `GitHub answered ${status} while ${doing} (${detail})`,
    'retry; if it persists see https://www.githubstatus.com',
  ]),
  githubNoRepo: define('PREVU_GITHUB_NO_REPO', 'user', (operation: string) => [
    `no GitHub repository to report the ${operation} to`,
    'run in GitHub Actions or set PREVU_CI_REPO=owner/name',
  ]),
  githubNoToken: define('PREVU_GITHUB_NO_TOKEN', 'user', (operation: string) => [
    `no GitHub token, so no ${operation} was written`,
    'pass the github-token input or set GITHUB_TOKEN (with `permissions:` granting it)',
  ]),
  ciPrNumberInvalid: define('PREVU_CI_PR_INVALID', 'user', (name: string, raw: string) => [
    `${name}="${raw}" is not a pull request number`,
    `set ${name} to a positive integer or unset it`,
  ]),
  githubEventUnreadable: define('PREVU_GITHUB_EVENT_UNREADABLE', 'user', (path: string, detail: string) => [
    `GITHUB_EVENT_PATH=${path} cannot be read (${detail})`,
    'run inside GitHub Actions or unset GITHUB_EVENT_PATH',
  ]),
  githubEventNotJson: define('PREVU_GITHUB_EVENT_NOT_JSON', 'user', (path: string) => [
    `GITHUB_EVENT_PATH=${path} is not JSON`,
    'point GITHUB_EVENT_PATH at the event payload GitHub Actions wrote',
  ]),
  githubEventMalformed: define('PREVU_GITHUB_EVENT_MALFORMED', 'user', (path: string, detail: string) => [
    `the GitHub event payload at ${path} is malformed (${detail})`,
    'point GITHUB_EVENT_PATH at the event payload GitHub Actions wrote',
  ]),
  actionInputInvalid: define('PREVU_ACTION_INPUT_INVALID', 'user', (name: string, problem: string, detail: string) => [
    `the action input \`${name}\` ${problem} (${detail})`,
    name === 'command' ? 'set `command: up`, `command: down` or `command: gc` under `with:`' : `fix \`${name}\` under \`with:\` in the workflow`,
  ]),
  actionArgsUnclosedQuote: define('PREVU_ACTION_ARGS_QUOTE', 'user', (quote: string) => [
    `the action input \`args\` has an unclosed ${quote} quote`,
    'close the quote in `args`',
  ]),
  actionArgsShellSyntax: define('PREVU_ACTION_ARGS_SHELL', 'user', (what: string) => [
    `the action input \`args\` has shell syntax (${what}) and prevu runs no shell`,
    'pass plain words; quote one that contains it',
  ]),
  actionAccountKeyInvalid: define('PREVU_ACTION_ACCOUNT_KEY_INVALID', 'user', () => [
    'the account-key input is not an unencrypted OpenSSH private key',
    'store the profile\'s id_ed25519 file (from `prevu profile ls`) as a secret and pass it as account-key',
  ]),
  actionAccountKeyWithoutProfile: define('PREVU_ACTION_KEY_WITHOUT_PROFILE', 'user', () => [
    'the account-key input needs a profile input to go with',
    'pass the profile (its profile.json contents or a path) as `profile`',
  ]),
  actionAccountKeyMissing: define('PREVU_ACTION_ACCOUNT_KEY_MISSING', 'user', (profile: string) => [
    `profile "${profile}" needs its account key`,
    'store the profile\'s id_ed25519 as a secret and pass it as the account-key input',
  ]),
  actionProfileExists: define('PREVU_ACTION_PROFILE_EXISTS', 'user', (profile: string) => [
    `profile "${profile}" exists on this runner, so driver, account-key and the host keys cannot change it`,
    'pass the profile contents instead of its name, or drop those inputs',
  ]),
  actionProfileUnreadable: define('PREVU_ACTION_PROFILE_UNREADABLE', 'user', () => [
    'the profile input is neither a profile (JSON or YAML) nor the path of one',
    'pass the contents of profiles/<name>/profile.json, or a path to it in the workspace',
  ]),
  actionProfileInvalid: define('PREVU_ACTION_PROFILE_INVALID', 'user', (detail: string) => [
    `the profile input is invalid (${detail})`,
    'pass the contents of profiles/<name>/profile.json as made by `prevu init`',
  ]),
  actionSshPinUnused: define('PREVU_ACTION_SSH_PIN_UNUSED', 'user', (profile: string, driver: string) => [
    `the ssh-host-key input pins an ssh host, and profile "${profile}" uses the ${driver} driver`,
    'drop ssh-host-key, or use a profile with driver ssh',
  ]),
  actionTunnelPinUnused: define('PREVU_ACTION_TUNNEL_PIN_UNUSED', 'user', (profile: string) => [
    `the tunnel-server-host-key input pins a remote tunnel server, and profile "${profile}" uses the embedded one`,
    'drop tunnel-server-host-key, or give the profile a tunnelServer address',
  ]),
  actionNoEnvId: define('PREVU_ACTION_NO_ENV_ID', 'user', () => ['`down` outside a pull request needs the env id', 'set `id:` under `with:` to the id `up` used']),
  actionUpNoEnvId: define('PREVU_ACTION_UP_NO_ENV_ID', 'user', () => ['`prevu up --json` did not say which env it deployed', 'set `id:` under `with:`']),

  // --- lifecycle: TTL, sleep, pin (issue 16) ---
  durationInvalid: define('PREVU_DURATION_INVALID', 'user', (flag: string, value: string) => [
    `${flag} ${value} is not a duration`,
    `write it like 4h, 90m, 1h30m or 2d (units s, m, h, d)`,
  ]),
  durationOutOfRange: define('PREVU_DURATION_OUT_OF_RANGE', 'user', (setting: string, range: string) => [
    `${setting} is out of range (${range})`,
    `pick a value from ${range}`,
  ]),
  ttlNeverNeedsPin: define('PREVU_TTL_NEVER_NEEDS_PIN', 'user', (setting: string) => [
    `${setting} means the env never expires, which only a pinned env may do`,
    'add --pin, or give a TTL from 1h to 168h (e.g. --ttl 4h)',
  ]),
  agentLifecycleFailed: define('PREVU_AGENT_LIFECYCLE_FAILED', 'environment', (envId: string, detail: string) => [
    `the agent of ${envId} did not take the change (${detail})`,
    `the env state is updated; run \`prevu status --id ${envId}\` to see whether its agent is connected, then try again`,
  ]),

  // --- the shared store (s3://bucket/prefix: profiles and env state, issue 22) ---
  storeUrlInvalid: define('PREVU_STORE_URL_INVALID', 'user', (url: string, detail: string) => [
    `"${url}" is not a store URL (${detail})`,
    'give s3://<bucket>/<prefix>, e.g. s3://my-team-prevu/previews',
  ]),
  storeAccessDenied: define('PREVU_STORE_ACCESS_DENIED', 'user', (action: string, bucket: string, resource: string) => [
    `S3 denied ${action} on bucket ${bucket}`,
    `allow ${action} on ${resource} in the IAM policy of these credentials`,
  ]),
  storeNoBucket: define('PREVU_STORE_NO_BUCKET', 'user', (bucket: string, endpoint: string) => [
    `the bucket ${bucket} does not exist (${endpoint})`,
    `create it (\`aws s3 mb s3://${bucket}\`) or fix the store URL`,
  ]),
  storeUnreachable: define('PREVU_STORE_UNREACHABLE', 'environment', (endpoint: string, detail: string) => [
    `the store at ${endpoint} does not answer (${detail})`,
    'check the network, and AWS_ENDPOINT_URL_S3 if set',
  ]),
  storeFailed: define('PREVU_STORE_FAILED', 'environment', (operation: string, where: string, detail: string) => [
    `S3 ${operation} on ${where} failed (${detail})`,
    'run the command again; with --debug for the details',
  ]),
  storeConflict: define('PREVU_STORE_CONFLICT', 'environment', (where: string) => [
    `${where} was changed by another writer after this command read it, so this command's write was not made`,
    'run `prevu ls` to see what it is now, then run the command again',
  ]),
  storeHasProfile: define('PREVU_STORE_HAS_PROFILE', 'user', (url: string) => [
    `${url} already holds a profile`,
    `use it with \`prevu profile import ${url}\`, or choose another prefix`,
  ]),
  storeNoProfile: define('PREVU_STORE_NO_PROFILE', 'user', (url: string) => [
    `${url} holds no prevu profile`,
    `make one there with \`prevu init --store ${url}\`, or check the prefix`,
  ]),
  storeKeyMissing: define('PREVU_STORE_KEY_MISSING', 'user', (url: string) => [
    `the account key of the profile in ${url} is needed here (the store never holds it)`,
    'pass the private key file with --key-file, or its text in PREVU_ACCOUNT_KEY (from a secret)',
  ]),
  storeKeyFileUnreadable: define('PREVU_STORE_KEY_FILE_UNREADABLE', 'user', (file: string, detail: string) => [
    `cannot read the --key-file ${file} (${detail})`,
    "give the path of that profile's id_ed25519 file",
  ]),
  storeKeyUnreadable: define('PREVU_STORE_KEY_UNREADABLE', 'user', (url: string) => [
    `the account key given for the profile in ${url} is not an OpenSSH private key`,
    "give that profile's id_ed25519 file (--key-file) or its whole text (PREVU_ACCOUNT_KEY)",
  ]),
  storeKeyMismatch: define('PREVU_STORE_KEY_MISMATCH', 'user', (url: string, expected: string, given: string) => [
    `the account key given is account ${given}, the profile in ${url} is account ${expected}`,
    "give that profile's key (id_ed25519 in the profile folder of the machine that ran `prevu init --store`)",
  ]),
  storeObjectInvalid: define('PREVU_STORE_OBJECT_INVALID', 'environment', (where: string, detail: string) => [
    `${where} is not what prevu wrote (${detail})`,
    'remove it or write it again (`prevu init --store` for a profile, `prevu up` for an env)',
  ]),

  // --- `prevu connect` and `prevu expose` (issue 18) ---
  connectNoTarget: define('PREVU_CONNECT_NO_TARGET', 'user', (target: string, envId: string, known: string) => [
    `env "${envId}" has no tunnel for ${target} held by this key (${known})`,
    'check the service and --id with `prevu urls`; only the key that deployed an env connects to it',
  ]),
  connectPortAmbiguous: define('PREVU_CONNECT_PORT_AMBIGUOUS', 'user', (service: string, ports: string) => [
    `service "${service}" has several ports (${ports})`,
    'pick one with --port',
  ]),
  connectLocalPortBusy: define('PREVU_CONNECT_LOCAL_PORT', 'user', (address: string, detail: string) => [
    `cannot listen on ${address} (${detail})`,
    'pick another --local-port, or leave it out for a free one',
  ]),
  connectRefused: define('PREVU_CONNECT_REFUSED', 'environment', (target: string, detail: string) => [
    `the tunnel server refused a connection to ${target} (${detail})`,
    'the env may be down or reconnecting (`prevu status`), or this key holds too many connections at once (the server\'s --max-connect-channels-per-key)',
  ]),
  exposeNeedsThisEngine: define('PREVU_EXPOSE_NEEDS_THIS_ENGINE', 'user', (profile: string, driver: string) => [
    `profile "${profile}" deploys to a ${driver} machine, and expose tunnels a project running on this one`,
    'use a profile with the local driver (e.g. --profile local)',
  ]),
  exposeNotRunning: define('PREVU_EXPOSE_NOT_RUNNING', 'user', (project: string) => [
    `compose project "${project}" has no running container on this machine`,
    'start it with `docker compose up -d` first, or run expose in its directory',
  ]),
  exposeEnvTaken: define('PREVU_EXPOSE_ENV_TAKEN', 'user', (envId: string) => [
    `env "${envId}" was deployed by \`prevu up\`, and expose would replace its containers with the agent alone`,
    'pass another --id, or `prevu down` it first',
  ]),
  exposeNotExposed: define('PREVU_EXPOSE_NOT_EXPOSED', 'user', (envId: string) => [
    `env "${envId}" is not exposed by \`prevu expose\``,
    'see `prevu ls`; an env made by `prevu up` ends with `prevu down`',
  ]),

  // --- the tunnel server's start-up (prevu-tunnel-server) ---
  serverFlagsInvalid: define('PREVU_SERVER_FLAGS_INVALID', 'user', (detail: string) => [detail, 'see the flags in packages/tunnel-server/README.md']),
  serverSettingInvalid: define('PREVU_SERVER_SETTING_INVALID', 'user', (flag: string, env: string, detail: string) => [
    `invalid --${flag} (or ${env}): ${detail}`,
    'fix the value and start again',
  ]),
  serverHttpsNeedsCert: define('PREVU_SERVER_HTTPS_NEEDS_CERT', 'user', () => ['--https-port needs a certificate', 'add --dev-tls, or --tls-cert and --tls-key']),
  serverCertUnusable: define('PREVU_SERVER_CERT_UNUSABLE', 'user', (detail: string) => [
    `cannot use --tls-cert/--tls-key: ${detail}`,
    'give a PEM certificate and the private key it was made for',
  ]),
  serverCertNotCovering: define('PREVU_SERVER_CERT_NOT_COVERING', 'user', (base: string, names: string) => [
    `the --tls-cert certificate does not cover *.${base} (it names ${names})`,
    `give a certificate for *.${base}, or the --base-domain it was made for; every URL is a name under it`,
  ]),

  // --- tunnel server cluster (--redis, issue 21) ---
  serverClusterSecretUnusable: define('PREVU_SERVER_CLUSTER_SECRET_UNUSABLE', 'user', (file: string, detail: string) => [
    `--cluster-secret-file ${file} cannot be used (${detail})`,
    'give every node the same file of at least 32 random characters (e.g. `openssl rand -hex 32 > cluster.secret`)',
  ]),
  serverRedisUnreachable: define('PREVU_SERVER_REDIS_UNREACHABLE', 'environment', (detail: string) => [
    `cannot reach the --redis server (${detail})`,
    'start Redis, or fix the URL (redis://[:password@]host:6379/0); without --redis the node runs alone',
  ]),
  serverAgentKeysUnavailable: define('PREVU_SERVER_AGENT_KEYS_UNAVAILABLE', 'environment', () => [
    'the tunnel server cannot check agent keys now (its cluster\'s Redis does not answer), so it refuses agent keys',
    'the agent logs in again by itself once Redis answers; if this lasts, the server\'s operator should see to Redis',
  ]),

  // --- the agent's start-up (prevu-agent) ---
  agentSettingInvalid: define('PREVU_AGENT_SETTING_INVALID', 'user', (name: string, detail: string) => [
    `${name} ${detail}`,
    'prevu writes these settings into the compose overlay; run `prevu up` again rather than editing them',
  ]),
  agentKeyUnreadable: define('PREVU_AGENT_KEY_UNREADABLE', 'user', (file: string, detail: string) => [
    `PREVU_KEY_FILE ${file} cannot be read (${detail})`,
    "mount the env's agent key there as the compose secret prevu_key",
  ]),
  agentKeyInvalid: define('PREVU_AGENT_KEY_INVALID', 'user', (file: string) => [
    `PREVU_KEY_FILE ${file} is not an OpenSSH private key`,
    "mount the env's agent key file",
  ]),

  // --- lifecycle: the env limit, gc (issue 16, the CLI half) ---
  envLimitReached: define('PREVU_ENV_LIMIT', 'user', (profile: string, max: string, oldest: string) => [
    `profile ${profile} already has ${max} envs (its maxEnvs); the oldest is ${oldest}`,
    `remove it with \`prevu down --id ${oldest}\`, or run \`prevu up --replace-oldest\` to take its place`,
  ]),
  selfDeleteGaveUp: define('PREVU_SELF_DELETE_GAVE_UP', 'environment', (instance: string, minutes: string) => [
    `the agent could not delete its Lightsail instance ${instance} in ${minutes} min`,
    'run `prevu gc` (or `prevu down --id <env>`) from a laptop or CI',
  ]),
  deleteCredentialIncomplete: define('PREVU_DELETE_CREDENTIAL_INCOMPLETE', 'user', (missing: string) => [
    `${missing} is not set, and the other half of the Lightsail delete credential is`,
    'set both PREVU_LIGHTSAIL_DELETE_ACCESS_KEY_ID and PREVU_LIGHTSAIL_DELETE_SECRET_ACCESS_KEY (the delete-only key of site/docs/drivers.md), or neither',
  ]),
  agentEndpointInvalid: define('PREVU_AGENT_ENDPOINT_INVALID', 'user', (name: string, value: string) => [
    `${name} ${JSON.stringify(value.slice(0, 200))} is not an http(s) URL`,
    'set it to the Lightsail API address as the instance reaches it (https://...), or unset it to use the CLI\'s',
  ]),
  deleteCredentialInvalid: define('PREVU_DELETE_CREDENTIAL_INVALID', 'user', (name: string) => [
    `${name} is not an AWS access key id`,
    'set it to the access key id of the delete-only IAM user (AKIA...)',
  ]),
  gcResultInvalid: define('PREVU_GC_RESULT_INVALID', 'environment', () => [
    '`prevu gc --json` printed no list of envs',
    'run the action with the prevu CLI of the same version (the `prevu` input)',
  ]),

  // --- share links and the dashboard (issue 19) ---
  shareUnknown: define('PREVU_SHARE_UNKNOWN', 'user', (id: string) => [
    `no live share link "${id}" for this account (revoked, expired, or made on another tunnel server)`,
    'see `prevu share ls` for the live ones',
  ]),

  // --- SSH over TLS, private CAs and the hosts file (issue 18) ---
  tunnelTlsUntrusted: define('PREVU_TUNNEL_TLS_UNTRUSTED', 'environment', (address: string, detail: string) => [
    `the TLS certificate of the tunnel server ${address} is not trusted (${detail})`,
    'give the profile the CA that issued it (--ca-file, or NODE_EXTRA_CA_CERTS for this machine only), and an address whose name the certificate covers, e.g. tls://ssh.<base domain>:443',
  ]),
  tunnelNoSshOverTls: define('PREVU_TUNNEL_NO_SSH_OVER_TLS', 'environment', (address: string) => [
    `${address} answers TLS but does not offer SSH over TLS (ALPN prevu-ssh)`,
    "point tls:// at the tunnel server's own HTTPS port (not a proxy that ends TLS in front of it), or use its SSH port as host:port",
  ]),
  caFileUnreadable: define('PREVU_CA_FILE_UNREADABLE', 'user', (file: string, detail: string) => [
    `--ca-file ${file} cannot be used (${detail})`,
    'give a PEM file holding the certificate of the CA that issued the tunnel server\'s certificate',
  ]),
  caFileWithoutServer: define('PREVU_CA_FILE_WITHOUT_SERVER', 'user', () => [
    '--ca-file needs --tunnel-server',
    'the embedded server is reached on this machine over plain SSH and HTTP: no certificate to check',
  ]),
  hostsFileInvalid: define('PREVU_HOSTS_FILE_INVALID', 'user', (file: string, detail: string) => [
    `PREVU_HOSTS_FILE ${file} cannot be used (${detail})`,
    'write lines "<address> <name>..." as in /etc/hosts; a name *.<domain> covers every name under it; or unset PREVU_HOSTS_FILE',
  ]),

  // --- not the user's doing ---
  interrupted: define('PREVU_INTERRUPTED', 'interrupted', () => ['interrupted', '']),
  unexpected: define('PREVU_UNEXPECTED', 'environment', (detail: string) => [detail, 'run with --debug and report it']),
  dotenvUnreadable: define('PREVU_DOTENV_UNREADABLE', 'user', (file: string, detail: string) => [
    `cannot read ${file} (${detail})`,
    'pass a dotenv file that exists, e.g. --against .env.production',
  ]),
};

export function isPrevuError(error: unknown): error is PrevuError {
  return error instanceof PrevuError;
}
