// Where a profile's shared records live (env state; for a store profile, the profile itself):
// an object store with versions, so that a write can say which version it replaces. Two
// implementations: a folder on this machine (store/folder-store.ts, the default) and an
// S3-compatible bucket (store/s3-store.ts, `prevu init --store s3://...`). A write whose
// condition fails throws errors.storeConflict: nothing another writer made is overwritten.

export interface StoredObject {
  text: string;
  /** The version read: what a later write names in `ifMatch`. */
  etag: string;
}

/** The version a write replaces (`ifMatch`), or that nothing may be there yet (`ifNoneMatch`). */
export type WriteCondition = { ifMatch: string } | { ifNoneMatch: true };

export interface ObjectStore {
  /** Where the store is, for messages: s3://bucket/prefix or the folder. */
  readonly url: string;
  /** The object at `key`, or undefined when there is none. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Writes `text` at `key` when `condition` holds; returns the new version. */
  put(key: string, text: string, condition: WriteCondition): Promise<string>;
  /** Removes `key` when it is still at version `ifMatch` (gone already: done). */
  delete(key: string, ifMatch?: string): Promise<void>;
  /** Every key that starts with `prefix`. */
  list(prefix: string): Promise<string[]>;
}

/** A key is made by prevu from validated names; this keeps it inside the store all the same. */
export function checkKey(key: string): string {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(key) || key.split('/').some((part) => part === '..' || part === '.')) {
    throw new RangeError(`not a store key: ${key}`);
  }
  return key;
}
