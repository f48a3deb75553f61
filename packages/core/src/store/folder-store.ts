// The object store as a folder on this machine (a profile's folder: envs/<envId>/state.json),
// what every profile without --store uses. A version is the SHA-256 of the content; a write
// checks it and renames a temporary file into place, so a reader never sees half a file. A
// create is atomic (a hard link fails where a file is); a replace checks then renames, two steps
// that two prevu processes on one machine could pass at the same moment (S3 has no such gap).
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { errors } from '../errors.js';
import { checkKey, type ObjectStore, type StoredObject, type WriteCondition } from './object-store.js';

const versionOf = (text: string) => `"${createHash('sha256').update(text).digest('hex')}"`;

export class FolderStore implements ObjectStore {
  constructor(readonly url: string) {}

  async get(key: string): Promise<StoredObject | undefined> {
    return this.read(key);
  }

  // No await between a check and its write: within one process nothing can come between them.
  async put(key: string, text: string, condition: WriteCondition): Promise<string> {
    const file = join(this.url, checkKey(key));
    mkdirSync(dirname(file), { recursive: true });
    const temporary = `${file}.${randomUUID()}.tmp`;
    writeFileSync(temporary, text);
    try {
      if ('ifMatch' in condition) {
        this.check(key, condition.ifMatch);
        renameSync(temporary, file);
      } else {
        // a hard link is made only where no file is: creating is atomic across processes too
        linkSync(temporary, file);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw errors.storeConflict(file);
      throw error;
    } finally {
      rmSync(temporary, { force: true });
    }
    return versionOf(text);
  }

  async delete(key: string, ifMatch?: string): Promise<void> {
    if (ifMatch !== undefined) {
      if (this.read(key) === undefined) return;
      this.check(key, ifMatch);
    }
    rmSync(join(this.url, checkKey(key)), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const root = join(this.url, prefix.replace(/[^/]*$/, ''));
    if (!existsSync(root)) return [];
    return readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && !entry.name.endsWith('.tmp'))
      .map((entry) => relative(this.url, join(entry.parentPath, entry.name)).split(sep).join('/'))
      .filter((key) => key.startsWith(prefix))
      .sort();
  }

  private read(key: string): StoredObject | undefined {
    const file = join(this.url, checkKey(key));
    if (!existsSync(file)) return undefined;
    const text = readFileSync(file, 'utf8');
    return { text, etag: versionOf(text) };
  }

  private check(key: string, expected: string): void {
    if (this.read(key)?.etag !== expected) throw errors.storeConflict(join(this.url, key));
  }
}
