// Settings from flags and PREVU_* environment variables (flags win), validated once at start.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { errors } from '@prevu/core/errors';

const port = z.coerce.number().int().min(0).max(65535);
const positive = z.coerce.number().int().positive();
const flag = z.preprocess((v) => (typeof v === 'string' ? !['', '0', 'false', 'no'].includes(v.toLowerCase()) : v), z.boolean());

const schema = z
  .object({
    sshPort: port.default(2222),
    httpPort: port.default(8080),
    httpsPort: port.optional(),
    managementPort: port.default(9090),
    baseDomain: z
      .string()
      .toLowerCase()
      .regex(/^(?=.{1,200}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, 'must be a DNS name like example.com')
      .default('localhost'),
    stateDir: z.string().min(1).default('./prevu-state'),
    listen: z.string().min(1).default('0.0.0.0'),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    devTls: flag.default(false),
    authorizedKeys: z.string().optional(),
    /** The port users reach HTTP(S) on when it differs from the one listened on (a published container port). */
    publicPort: port.optional(),
    maxForwardsPerConnection: positive.default(100),
    maxConnectionsPerAccount: positive.default(20),
    /** Concurrent HTTP connections (SSH channels) one tunnel client carries. */
    maxChannelsPerConnection: positive.default(1000),
    /** Of those, what one visitor address may hold: 1,000 slow connections from one place never starve the others. */
    maxChannelsPerVisitor: positive.default(64),
    /** Authentication requests (a client's first `none` probe included) one SSH connection may make, like sshd's MaxAuthTries. */
    maxAuthTries: positive.default(10),
    /** SSH connections not authenticated yet, in all and per source address (sshd's MaxStartups). */
    maxUnauthenticated: positive.default(100),
    maxUnauthenticatedPerAddress: positive.default(10),
    /** SSH connections from one source address, authenticated or not: keys are free in open mode, addresses are not. */
    maxSshConnectionsPerAddress: positive.default(100),
    /** Session channels (`exec`) open at once on one SSH connection, like sshd's MaxSessions. */
    maxSessionsPerConnection: positive.default(10),
    /** `prevu connect` (direct-tcpip) channels one key holds open at once, over all its connections. */
    maxConnectChannelsPerKey: positive.default(32),
    /** HTTP(S) client connections in all and per source address (an IPv6 address counts by its /64). */
    maxHttpConnections: positive.default(20_000),
    maxHttpConnectionsPerAddress: positive.default(256),
    /** A request body must average this many bytes a second over each head-timeout window (0: no minimum). */
    minBodyBytesPerSecond: z.coerce.number().int().min(0).default(1024),
    /** Live share links one key, and the server in all, may keep. */
    maxShareLinksPerAccount: positive.default(100),
    maxShareLinks: positive.default(10_000),
    maxHeaderBytes: positive.default(32 * 1024),
    /** HTTP/2 streams open at once on one client connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
    maxStreamsPerConnection: positive.default(100),
    /** A client connection with no bytes either way for this long is closed (not after an upgrade). */
    idleTimeoutSeconds: positive.default(600),
    /** Time a client has to send a complete request head. */
    headTimeoutSeconds: positive.default(30),
    sshKeepaliveSeconds: positive.default(15),
    /** --redis: this node is one of a cluster sharing the tunnel directory there (cluster/). */
    redis: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL').optional(),
    clusterSecretFile: z.string().min(1).optional(),
    /** The hop listener other nodes carry requests to (on --listen); keep it on the nodes' private network. */
    clusterPort: port.default(2223),
    /** How the other nodes reach this one's hop listener. */
    clusterHost: z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'must be a host name or IP address').optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .refine((c) => !c.tlsCert === !c.tlsKey, { message: 'give both --tls-cert and --tls-key, or neither', path: ['tlsCert'] })
  .refine((c) => !c.redis === !c.clusterSecretFile, { message: 'a cluster node needs both --redis and --cluster-secret-file', path: ['redis'] })
  .refine((c) => !(c.redis && c.clusterPort === 0), { message: 'a cluster node needs a fixed port: the other nodes dial it', path: ['clusterPort'] })
  .refine((c) => !(c.devTls && c.tlsCert), { message: '--dev-tls and --tls-cert exclude each other', path: ['devTls'] });

export type Config = z.infer<typeof schema> & { tls: boolean };

const options = {
  'ssh-port': { type: 'string' },
  'http-port': { type: 'string' },
  'https-port': { type: 'string' },
  'management-port': { type: 'string' },
  'base-domain': { type: 'string' },
  'state-dir': { type: 'string' },
  listen: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'dev-tls': { type: 'boolean' },
  'authorized-keys': { type: 'string' },
  'public-port': { type: 'string' },
  'max-forwards-per-connection': { type: 'string' },
  'max-connections-per-account': { type: 'string' },
  'max-channels-per-connection': { type: 'string' },
  'max-channels-per-visitor': { type: 'string' },
  'max-auth-tries': { type: 'string' },
  'max-unauthenticated': { type: 'string' },
  'max-unauthenticated-per-address': { type: 'string' },
  'max-ssh-connections-per-address': { type: 'string' },
  'max-sessions-per-connection': { type: 'string' },
  'max-connect-channels-per-key': { type: 'string' },
  'max-http-connections': { type: 'string' },
  'max-http-connections-per-address': { type: 'string' },
  'min-body-bytes-per-second': { type: 'string' },
  'max-share-links-per-account': { type: 'string' },
  'max-share-links': { type: 'string' },
  'max-header-bytes': { type: 'string' },
  'max-streams-per-connection': { type: 'string' },
  'idle-timeout-seconds': { type: 'string' },
  'head-timeout-seconds': { type: 'string' },
  'ssh-keepalive-seconds': { type: 'string' },
  'log-level': { type: 'string' },
  redis: { type: 'string' },
  'cluster-secret-file': { type: 'string' },
  'cluster-port': { type: 'string' },
  'cluster-host': { type: 'string' },
} as const;

const camel = (flagName: string) => flagName.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const envName = (flagName: string) => `PREVU_${flagName.toUpperCase().replace(/-/g, '_')}`;

/** Throws a PrevuError of the catalogue: one line, what was wrong and what to do. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw errors.serverFlagsInvalid((error as Error).message);
  }
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(options)) {
    const value = values[name] ?? env[envName(name)];
    if (value !== undefined) raw[camel(name)] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const flagName = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw errors.serverSettingInvalid(flagName, envName(flagName), issue.message);
  }
  const config = parsed.data;
  const tls = Boolean(config.devTls || config.tlsCert);
  if (tls && config.httpsPort === undefined) config.httpsPort = 8443;
  if (!tls && config.httpsPort !== undefined) {
    throw errors.serverHttpsNeedsCert();
  }
  return { ...config, tls };
}
