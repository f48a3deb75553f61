// A profile shared through a store (s3://bucket/prefix): `prevu init --store` publishes it,
// `prevu profile import` (and the Action's `profile: s3://...`) makes a machine's copy of it.
// In the store: profile.json, the profile with its account's public key (to check an imported key
// against), one object so that one conditional write makes it whole.
// The account's private key is never written there: it stays on the machine that made it and in
// the secrets the user gives it to (CI's), so read access to the bucket grants nothing (see
// packages/core/README.md, "Sharing a profile through S3").
import { z } from 'zod';
import { errors, isError } from '../errors.js';
import { accountIdOfPublicKey, profileSchema, type Profile, type ProfileStore } from '../profiles.js';
import { publicKeyOf } from '../ssh-keys.js';
import { openStore } from './open.js';
import { parseStoreUrl } from './store-url.js';

const PROFILE = 'profile.json';
const sharedProfileSchema = z.object({ profile: z.record(z.string(), z.unknown()), publicKey: z.string() });

/** Writes the local profile `name` to the store at `url` (which must hold none) and makes it a store profile. */
export async function publishProfile(profiles: ProfileStore, name: string, url: string, env: NodeJS.ProcessEnv = process.env): Promise<Profile> {
  const location = parseStoreUrl(url);
  const profile: Profile = { ...profiles.read(name), store: location.url };
  const store = await openStore(location.url, '', env);
  const text = `${JSON.stringify({ profile, publicKey: profiles.key(name).publicKey }, null, 2)}\n`;
  try {
    await store.put(PROFILE, text, { ifNoneMatch: true });
  } catch (error) {
    throw isError(error, errors.storeConflict) ? errors.storeHasProfile(location.url) : error;
  }
  profiles.write(profile);
  return profile;
}

/**
 * Makes this machine's copy of the profile in the store at `url`, with `privateKey` (checked to be
 * the profile's account), under `name` or the profile's own name. A local profile of that name
 * is replaced only when it is a copy of the same store (importing again takes the store's changes).
 */
export async function importProfile(profiles: ProfileStore, url: string, options: { privateKey?: string; name?: string; env?: NodeJS.ProcessEnv }): Promise<Profile> {
  const location = parseStoreUrl(url);
  const store = await openStore(location.url, '', options.env);
  const found = await store.get(PROFILE);
  if (!found) throw errors.storeNoProfile(location.url);
  let data: unknown;
  try {
    data = JSON.parse(found.text);
  } catch (error) {
    throw errors.storeObjectInvalid(`${location.url}/${PROFILE}`, (error as Error).message);
  }
  const read = sharedProfileSchema.safeParse(data);
  if (!read.success) throw errors.storeObjectInvalid(`${location.url}/${PROFILE}`, `${read.error.issues[0]?.path.join('.')}: ${read.error.issues[0]?.message}`);
  const shared = read.data;
  const parsed = profileSchema.safeParse({ ...shared.profile, ...(options.name ? { name: options.name } : {}), store: location.url });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw errors.storeObjectInvalid(`${location.url}/${PROFILE}`, `${issue?.path.join('.')}: ${issue?.message}`);
  }
  const profile = parsed.data;
  if (!options.privateKey) throw errors.storeKeyMissing(location.url);
  const given = publicKeyOf(options.privateKey);
  if (!given) throw errors.storeKeyUnreadable(location.url);
  const expected = accountIdOfPublicKey(shared.publicKey);
  if (accountIdOfPublicKey(given) !== expected) throw errors.storeKeyMismatch(location.url, expected, accountIdOfPublicKey(given));
  if (profiles.exists(profile.name) && profiles.read(profile.name).store !== location.url) throw errors.profileExists(profile.name);
  profiles.writeKey(profile.name, options.privateKey, given);
  profiles.write(profile);
  return profile;
}
