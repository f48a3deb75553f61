// The object store as an S3-compatible bucket (`--store s3://bucket/prefix`), with the AWS SDK's
// standard credential chain. AWS_ENDPOINT_URL_S3 (read by the SDK) points it at a compatible
// server, which then gets path-style URLs. Versions are S3's ETags: a write sends If-Match (or
// If-None-Match: * to create), so S3 itself refuses a write over another writer's change.
import { DeleteObjectCommand, GetObjectCommand, paginateListObjectsV2, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ObjectStore, StoredObject, WriteCondition } from './object-store.js';
import { checkKey } from './object-store.js';
import { s3Error, type S3Operation } from './s3-errors.js';
import type { StoreLocation } from './store-url.js';

export class S3Store implements ObjectStore {
  readonly url: string;
  private readonly client: S3Client;
  private readonly endpoint: string;

  constructor(
    private readonly location: StoreLocation,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.url = location.url;
    // The SDK warns on stderr that its releases of 2027 will need Node 22: prevu's own lockfile
    // and engines decide that, and an error must stay one line.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const custom = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
    this.endpoint = custom || 'Amazon S3';
    this.client = new S3Client({
      // the bucket's own region is found by the SDK when this one is not it
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
      followRegionRedirects: true,
      forcePathStyle: Boolean(custom),
    });
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const Key = this.key(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key }));
      return { text: (await out.Body?.transformToString('utf8')) ?? '', etag: out.ETag ?? '' };
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw this.error(error, 'GetObject', Key);
    }
  }

  async put(key: string, text: string, condition: WriteCondition): Promise<string> {
    const Key = this.key(key);
    try {
      const out = await this.client.send(
        new PutObjectCommand({ Bucket: this.location.bucket, Key, Body: text, ContentType: 'application/json', ...('ifMatch' in condition ? { IfMatch: condition.ifMatch } : { IfNoneMatch: '*' }) }),
      );
      return out.ETag ?? '';
    } catch (error) {
      throw this.error(error, 'PutObject', Key);
    }
  }

  async delete(key: string, ifMatch?: string): Promise<void> {
    const Key = this.key(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key, ...(ifMatch ? { IfMatch: ifMatch } : {}) }));
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return;
      throw this.error(error, 'DeleteObject', Key);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.location.prefix ? `${this.location.prefix}/` : '';
    const keys: string[] = [];
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.location.bucket, Prefix: `${base}${prefix}` })) {
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key.slice(base.length));
      }
    } catch (error) {
      throw this.error(error, 'ListObjectsV2', `${base}${prefix}`);
    }
    return keys.sort();
  }

  close(): void {
    this.client.destroy();
  }

  private key(key: string): string {
    return this.location.prefix ? `${this.location.prefix}/${checkKey(key)}` : checkKey(key);
  }

  private error(error: unknown, operation: S3Operation, key: string) {
    return s3Error(error, operation, { bucket: this.location.bucket, key, endpoint: this.endpoint });
  }
}
