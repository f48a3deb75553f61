// --dev-tls: a local CA and a wildcard certificate for `*.<base>`, made on first start and kept in
// the state dir (the CA for a browser or client to trust). Written with node:crypto and a small
// DER encoder: the container image has no openssl binary, and an X.509 library would cost more
// than it saves (figures in the package README, "Layout").
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const tlv = (tag: number, content: Buffer): Buffer => {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
};
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const int = (bytes: Buffer) => tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}
const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const ext = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

/**
 * X.509 nameConstraints (critical): the CA may only vouch for `<base>` and names under it, and
 * for no IP address, so a copy of it trusted by a browser cannot be used to impersonate any
 * other site, even by someone who got the CA key out of the state dir.
 */
function nameConstraints(baseDomain: string): Buffer {
  const subtree = (generalName: Buffer) => seq(generalName);
  const permitted = tlv(0xa0, subtree(tlv(0x82, Buffer.from(baseDomain))));
  const excluded = tlv(0xa1, Buffer.concat([subtree(tlv(0x87, Buffer.alloc(8))), subtree(tlv(0x87, Buffer.alloc(32)))]));
  return ext('2.5.29.30', true, seq(permitted, excluded));
}

interface CertSpec {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signer: KeyObject;
  issuerKeyId: Buffer;
  days: number;
  extensions: Buffer[];
}

function keyId(publicKey: KeyObject): Buffer {
  return createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}

function certificate(spec: CertSpec): string {
  const now = Date.now();
  const tbs = seq(
    explicit(0, int(Buffer.from([2]))),
    int(randomBytes(16)),
    ECDSA_SHA256,
    name(spec.issuer),
    seq(time(new Date(now - 3600_000)), time(new Date(now + spec.days * 86_400_000))),
    name(spec.subject),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      seq(
        ...spec.extensions,
        ext('2.5.29.14', false, octets(keyId(spec.publicKey))),
        ext('2.5.29.35', false, seq(tlv(0x80, spec.issuerKeyId))),
      ),
    ),
  );
  const der = seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, spec.signer)));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}

export interface DevTls {
  cert: string;
  key: string;
  /** PEM of the CA a client must trust. */
  ca: string;
  caPath: string;
}

/**
 * Loads the dev CA and the `*.<base>` certificate from the state dir, making what is missing. A CA
 * not constrained to this base domain (made by an older version, or for another base) is made
 * anew, and with it the certificate.
 */
export function loadDevTls(stateDir: string, baseDomain: string): DevTls {
  const dir = join(stateDir, 'dev-tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caPath = join(dir, 'ca.crt');
  const caKeyPath = join(dir, 'ca.key');
  const certPath = join(dir, `${baseDomain}.crt`);
  const keyPath = join(dir, `${baseDomain}.key`);
  const constraint = nameConstraints(baseDomain);
  if (!existsSync(caPath) || !existsSync(caKeyPath) || !new X509Certificate(readFileSync(caPath)).raw.includes(constraint)) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ca = certificate({
      subject: 'prevu dev CA',
      issuer: 'prevu dev CA',
      publicKey,
      signer: privateKey,
      issuerKeyId: keyId(publicKey),
      days: 3650,
      extensions: [ext('2.5.29.19', true, seq(bool(true))), ext('2.5.29.15', true, bits(Buffer.from([0x86]), 1)), constraint],
    });
    writeFileSync(caKeyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(caPath, ca);
    rmSync(certPath, { force: true }); // signed by the CA just replaced
  }
  const caPem = readFileSync(caPath, 'utf8');
  const caKey = createPrivateKey(readFileSync(caKeyPath, 'utf8'));
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const san = seq(tlv(0x82, Buffer.from(`*.${baseDomain}`)), tlv(0x82, Buffer.from(baseDomain)));
    const leaf = certificate({
      subject: `*.${baseDomain}`,
      issuer: 'prevu dev CA',
      publicKey,
      signer: caKey,
      issuerKeyId: keyId(createPublicKey(caKey)),
      days: 397,
      extensions: [
        ext('2.5.29.19', true, seq()),
        ext('2.5.29.15', true, bits(Buffer.from([0xa0]), 5)),
        ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))),
        ext('2.5.29.17', false, san),
      ],
    });
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(certPath, leaf + caPem);
  }
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), ca: caPem, caPath };
}

