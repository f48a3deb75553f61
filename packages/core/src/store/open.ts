// Which object store a profile's records are in: its S3 store when the profile has one, else
// its folder. The SDK is loaded only for a store profile.
import { FolderStore } from './folder-store.js';
import type { ObjectStore } from './object-store.js';
import { parseStoreUrl } from './store-url.js';

export async function openStore(store: string | undefined, folder: string, env: NodeJS.ProcessEnv = process.env): Promise<ObjectStore> {
  if (!store) return new FolderStore(folder);
  const { S3Store } = await import('./s3-store.js');
  return new S3Store(parseStoreUrl(store), env);
}
