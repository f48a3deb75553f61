// The agent's settings: PREVU_* environment variables, validated once at start. A bad setting is
// reported as one line naming the variable and what to put there (exit 1 in main).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { errors } from '@prevu/core/errors';
import { normalizeEnvId } from '@prevu/core/names';
import { parseTunnelAddress, TUNNEL_ADDRESS_HINT, type TunnelAddress } from '@prevu/core/tunnel-address';
import type { SelfDeleteSettings } from './lightsail-self-delete.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const PORT = 'must be a port number from 1 to 65535';
const SECONDS = 'must be a whole number of seconds (0: never)';

const schema = z.object({
  PREVU_TUNNEL_SERVER: z
    .string({ error: 'is required' })
    .refine((v) => parseTunnelAddress(v) !== undefined, `${TUNNEL_ADDRESS_HINT}, e.g. host.docker.internal:2222`),
  /** tls://: the name the certificate must cover, when not the address's host. */
  PREVU_TUNNEL_TLS_NAME: z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a DNS name').optional(),
  /** tls://: a PEM CA certificate trusted besides the system ones. */
  PREVU_TUNNEL_CA: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'must be a PEM certificate' }).optional(),
  PREVU_ENV_ID: z
    .string({ error: 'is required' })
    .min(1, 'is required')
    .refine((v) => v === normalizeEnvId(v), 'must be a normalized env id ([a-z0-9-], no leading/trailing dash)'),
  PREVU_COMPOSE_PROJECT: z.string({ error: 'is required' }).min(1, 'is required'),
  PREVU_KEY_FILE: z.string().min(1).default('/run/secrets/prevu_key'),
  PREVU_PRIVATE: bool.default(false),
  PREVU_TUNNEL_HOST_KEY: z
    .string()
    .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'must be an OpenSSH SHA256 fingerprint like SHA256:abc... (ssh-keygen -lf)')
    .optional(),
  PREVU_DOCKER_SOCKET: z.string().min(1).default('/var/run/docker.sock'),
  PREVU_API_PORT: z.coerce.number({ error: PORT }).int(PORT).min(1, PORT).max(65535, PORT).default(3000),
  PREVU_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  PREVU_EXPIRES_AT: z
    .string()
    .refine((v) => /^\d{4}-\d\d-\d\dT/.test(v) && Number.isFinite(Date.parse(v)), 'must be an ISO 8601 time, e.g. 2026-01-31T12:00:00.000Z')
    .optional(),
  PREVU_SLEEP_AFTER: z.coerce.number({ error: SECONDS }).int(SECONDS).min(0, SECONDS).default(0),
  PREVU_PINNED: bool.default(false),
  PREVU_LIFECYCLE_FILE: z.string().min(1).default('/var/lib/prevu-agent/lifecycle.json'),
  // A Lightsail env that deletes itself at its TTL (lightsail-self-delete.ts): all four, or none.
  PREVU_LIGHTSAIL_INSTANCE: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/, 'must be a Lightsail instance name').optional(),
  PREVU_LIGHTSAIL_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region like eu-west-1').optional(),
  PREVU_LIGHTSAIL_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  PREVU_LIGHTSAIL_CREDENTIALS_FILE: z.string().min(1).default('/run/secrets/prevu_lightsail_delete'),
});

/** The dedicated delete-only credential, as the CLI writes it into the compose secret. */
const credentialsSchema = z.object({ accessKeyId: z.string().min(16).max(128), secretAccessKey: z.string().min(1).max(256), sessionToken: z.string().max(4096).optional() });

export interface AgentConfig {
  tunnel: TunnelAddress;
  tlsName?: string;
  ca?: string;
  envId: string;
  project: string;
  privateKey: string;
  private: boolean;
  hostKey?: string;
  dockerSocket: string;
  apiPort: number;
  logLevel: string;
  /** When the TTL ends; absent: no TTL. */
  expiresAt?: string;
  /** Idle seconds before the services sleep; 0: never. */
  sleepAfterSeconds: number;
  pinned: boolean;
  /** Where the pin and the sleep survive an agent restart (inside its container). */
  lifecycleFile: string;
  /** Set when the env deletes its own Lightsail instance at its TTL. */
  selfDelete?: SelfDeleteSettings;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('PREVU_') && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'PREVU_*');
    throw errors.agentSettingInvalid(name, `${issue.message}${name in present ? ` (got "${present[name]}")` : ''}`);
  }
  const c = parsed.data;
  let privateKey: string;
  try {
    privateKey = readFileSync(c.PREVU_KEY_FILE, 'utf8');
  } catch (error) {
    throw errors.agentKeyUnreadable(c.PREVU_KEY_FILE, String((error as NodeJS.ErrnoException).code));
  }
  if (!/-----BEGIN (OPENSSH|RSA|EC) PRIVATE KEY-----/.test(privateKey)) {
    throw errors.agentKeyInvalid(c.PREVU_KEY_FILE);
  }
  return {
    tunnel: parseTunnelAddress(c.PREVU_TUNNEL_SERVER)!,
    ...(c.PREVU_TUNNEL_TLS_NAME ? { tlsName: c.PREVU_TUNNEL_TLS_NAME } : {}),
    ...(c.PREVU_TUNNEL_CA ? { ca: c.PREVU_TUNNEL_CA } : {}),
    envId: c.PREVU_ENV_ID,
    project: c.PREVU_COMPOSE_PROJECT,
    privateKey,
    private: c.PREVU_PRIVATE,
    ...(c.PREVU_TUNNEL_HOST_KEY ? { hostKey: c.PREVU_TUNNEL_HOST_KEY } : {}),
    dockerSocket: c.PREVU_DOCKER_SOCKET,
    apiPort: c.PREVU_API_PORT,
    logLevel: c.PREVU_LOG_LEVEL,
    ...(c.PREVU_EXPIRES_AT ? { expiresAt: new Date(c.PREVU_EXPIRES_AT).toISOString() } : {}),
    sleepAfterSeconds: c.PREVU_SLEEP_AFTER,
    pinned: c.PREVU_PINNED,
    lifecycleFile: c.PREVU_LIFECYCLE_FILE,
    ...(c.PREVU_LIGHTSAIL_INSTANCE ? { selfDelete: selfDeleteSettings(c.PREVU_LIGHTSAIL_INSTANCE, c.PREVU_LIGHTSAIL_REGION, c.PREVU_LIGHTSAIL_ENDPOINT, c.PREVU_LIGHTSAIL_CREDENTIALS_FILE) } : {}),
  };
}

function selfDeleteSettings(instanceName: string, region: string | undefined, endpoint: string | undefined, file: string): SelfDeleteSettings {
  if (!region) throw errors.agentSettingInvalid('PREVU_LIGHTSAIL_REGION', 'is required with PREVU_LIGHTSAIL_INSTANCE');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw errors.agentSettingInvalid('PREVU_LIGHTSAIL_CREDENTIALS_FILE', `${file} cannot be read (${String((error as NodeJS.ErrnoException).code)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // The message never quotes the file: it holds a secret.
  const credentials = credentialsSchema.safeParse(json);
  if (!credentials.success) throw errors.agentSettingInvalid('PREVU_LIGHTSAIL_CREDENTIALS_FILE', `${file} is not {"accessKeyId", "secretAccessKey"} JSON`);
  return { instanceName, region, ...(endpoint ? { endpoint } : {}), credentials: credentials.data };
}
