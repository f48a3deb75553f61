// Copies the files a project needs (build contexts, bind-mount sources) to the machine over SFTP.
// Every local absolute path lands at `<files dir>/<the same path>`, so nested paths share one copy
// and the mapping is stable across runs. A manifest on the host (size, mtime, mode per entry, as
// they were locally when sent) makes a second upload send only what changed and delete only what
// prevu itself put there: files a container wrote into a bind-mounted directory are left alone.
// Over 250 lines on purpose: the walk, the manifest and the safe writes are one protocol.
// A container may also plant symbolic links there: files are written to a fresh name (O_EXCL,
// their mode given at creation, so no byte is ever readable by others) and renamed over the old
// copy, and a link found where prevu keeps a directory, or a file it would chmod, stops the upload.
import type { Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import { isAbsolute, posix, resolve } from 'node:path';
import type ssh2 from 'ssh2';
import { z } from 'zod';
import { ignoreRules, type IgnoreRules } from '../dockerignore.js';
import { errors, isPrevuError } from '../errors.js';
import { pool } from '../pool.js';
import type { UploadResult } from './driver.js';
import { sftpCall as call } from './ssh-connect.js';

const entrySchema = z.object({
  /** f: regular file, d: directory, l: symbolic link */
  t: z.enum(['f', 'd', 'l']),
  /** size, mtime in ms, permission bits; the link target for links */
  s: z.number().optional(),
  m: z.number().optional(),
  p: z.number().optional(),
  l: z.string().optional(),
});
const manifestSchema = z.object({ version: z.literal(1), entries: z.record(z.string(), entrySchema) });
type Entry = z.infer<typeof entrySchema>;
type Manifest = z.infer<typeof manifestSchema>;

interface Local extends Entry {
  local: string;
}

export interface UploadOptions {
  sftp: ssh2.SFTPWrapper;
  /** Absolute remote directory the files go under. */
  filesDir: string;
  /** Absolute remote path of the manifest. */
  manifestPath: string;
  concurrency: number;
  /** .dockerignore rules per root: matching entries under that root are not sent. */
  ignore?: Record<string, string[]>;
  signal?: AbortSignal;
}

/** Ancestors of an uploaded root exist on the host only to hold it. */
const ANCESTOR_MODE = 0o755;
// SFTP status codes (draft-ietf-secsh-filexfer-02).
const NO_SUCH_FILE = 2;
/** Bytes per SFTP write, and writes in flight per file (what ssh2's fastPut does by default). */
const CHUNK = 32 * 1024;
const CHUNKS_IN_FLIGHT = 64;

export async function uploadTree(paths: string[], options: UploadOptions): Promise<UploadResult> {
  const { sftp, filesDir } = options;
  for (const p of paths) if (!isAbsolute(p)) throw errors.uploadPathRelative(p);
  // Normalized first: no `..` may lead out of the files dir.
  const mapping = new Map(paths.map((p) => [p, posix.join(filesDir, resolve(p))]));

  const ignore = new Map(Object.entries(options.ignore ?? {}).map(([root, patterns]) => [resolve(root), ignoreRules(patterns)]));
  const wanted = await scan(paths.map((p) => resolve(p)), ignore);
  const previous = await readManifest(sftp, options.manifestPath);
  const old = previous.entries;
  const changed = (rel: string, now: Local) => {
    const was = old[rel];
    return !was || was.t !== now.t || was.s !== now.s || was.m !== now.m || was.l !== now.l;
  };
  const checkAbort = () => {
    if (options.signal?.aborted) throw options.signal.reason;
  };
  const failed = (what: string) => (error: unknown) => {
    throw isPrevuError(error) ? error : errors.sshFailed(`upload (${what})`, (error as Error).message);
  };
  const remote = (rel: string) => posix.join(filesDir, rel);

  // The plan. Stale: what prevu put there before and is gone or changed kind locally. Dirs: new
  // ones and those whose mode changed. Files and links whose size/mtime/target changed are sent;
  // a file whose mode alone changed is only chmod-ed.
  const stale = Object.entries(old).filter(([rel, was]) => !wanted.has(rel) || wanted.get(rel)!.t !== was.t || (was.t === 'l' && changed(rel, wanted.get(rel)!)));
  const dirs = [...wanted].filter(([rel, e]) => e.t === 'd' && (old[rel]?.t !== 'd' || old[rel]!.p !== e.p || stale.some(([r]) => r === rel)));
  const entries = [...wanted].filter(([, e]) => e.t !== 'd');
  const toSend = entries.filter(([rel, e]) => changed(rel, e));
  const modeOnly = entries.filter(([rel, e]) => e.t === 'f' && !changed(rel, e) && old[rel]!.p !== e.p);

  checkAbort();
  if (stale.length || toSend.length || modeOnly.length) {
    // Until the new manifest is written, every entry about to be touched is marked unknown
    // (size -1): an upload cut anywhere leaves a manifest that never vouches for a half-made copy,
    // and the next upload sends or deletes those entries again.
    const touched = new Set([...stale, ...toSend, ...modeOnly].map(([rel]) => rel));
    const interim = Object.fromEntries(Object.entries(old).map(([rel, e]) => [rel, touched.has(rel) ? { ...e, s: -1 } : e]));
    await writeManifest(sftp, options.manifestPath, interim).catch(failed('manifest'));
  }

  // 1. Stale files and links first, then directories deepest first (a directory a container
  //    filled stays: rmdir refuses it).
  await pool(stale.filter(([, was]) => was.t !== 'd'), options.concurrency, ([rel]) => {
    checkAbort();
    return call(sftp, 'unlink', remote(rel)).catch((error: { code?: number }) => error.code === NO_SUCH_FILE || failed(`delete ${remote(rel)}`)(error));
  });
  for (const level of byDepth(stale.filter(([, was]) => was.t === 'd')).reverse()) {
    checkAbort();
    await pool(level, options.concurrency, ([rel]) => call(sftp, 'rmdir', remote(rel)).catch(() => undefined));
  }

  // 2. The files dir, then directories parents first, each level in parallel; kept writable for
  //    us until their own mode is set at the end. Every directory a file goes into is one (lstat:
  //    a planted link in its place would carry the writes elsewhere on the host).
  await makeDir(sftp, filesDir, 0o755).catch(failed(`mkdir ${filesDir}`));
  for (const level of byDepth(dirs)) {
    checkAbort();
    await pool(level, options.concurrency, ([rel]) => makeDir(sftp, remote(rel), 0o700).catch(failed(`mkdir ${remote(rel)}`)));
  }
  const parents = new Set(toSend.map(([rel]) => posix.dirname(rel)).filter((rel) => rel !== '.' && !dirs.some(([d]) => d === rel)));
  await pool([...parents], options.concurrency, (rel) => notALink(sftp, remote(rel), 'd'));

  // 3. Files and links, bounded parallelism over the one SFTP channel.
  await pool(toSend, options.concurrency, async ([rel, e]) => {
    checkAbort();
    const to = remote(rel);
    if (e.t === 'l') return call(sftp, 'symlink', e.l!, to).catch(failed(`symlink ${to}`));
    await putFile(sftp, e.local, to, e).catch(failed(`send ${e.local}`));
  });
  await pool(modeOnly, options.concurrency, async ([rel, e]) => {
    await notALink(sftp, remote(rel), 'f');
    await call(sftp, 'chmod', remote(rel), e.p!).catch(failed(`chmod ${remote(rel)}`));
  });

  // 4. Directory modes last (a read-only directory would have refused its files).
  checkAbort();
  await pool(dirs, options.concurrency, async ([rel, e]) => {
    await notALink(sftp, remote(rel), 'd');
    await call(sftp, 'chmod', remote(rel), e.p!).catch(failed(`chmod ${remote(rel)}`));
  });

  await writeManifest(sftp, options.manifestPath, Object.fromEntries([...wanted].map(([rel, { local: _local, ...entry }]) => [rel, entry]))).catch(failed('manifest'));
  return { mapping, filesSent: toSend.length, filesUnchanged: entries.length - toSend.length };
}

/**
 * Local entries keyed by their path relative to `/` (posix), ancestors of each root included. A
 * root with ignore rules leaves out what they match; any other root is taken whole.
 */
async function scan(paths: string[], ignore: Map<string, IgnoreRules>): Promise<Map<string, Local>> {
  const found = new Map<string, Local>();
  // A path inside another one is already covered by it, unless that one leaves things out.
  const roots = [...new Set(paths)].sort().filter((p, i, all) => !all.slice(0, i).some((r) => !ignore.has(r) && p.startsWith(r.endsWith('/') ? r : `${r}/`)));
  for (const root of roots) {
    // The root itself is followed when it is a link: compose mounts what it points to.
    const info = await stat(root).catch(() => undefined);
    // A missing bind source is created by the engine on the host, as compose does locally.
    if (!info) continue;
    const parts = root.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      if (!found.has(rel)) found.set(rel, { t: 'd', p: ANCESTOR_MODE, local: `/${rel}` });
    }
    const rules = ignore.get(root);
    await walk(root, parts.join('/'), info, found, rules ? { rules, base: parts.join('/').length + 1 } : undefined);
  }
  return found;
}

/** Adds `local` (and what is below it) to `found`; false when the ignore rules left all of it out. */
async function walk(local: string, rel: string, info: Stats, found: Map<string, Local>, ignore?: { rules: IgnoreRules; base: number }): Promise<boolean> {
  const p = info.mode & 0o7777;
  const ignored = ignore !== undefined && rel.length > ignore.base && ignore.rules.ignores(rel.slice(ignore.base));
  if (info.isDirectory()) {
    // Docker walks into an ignored directory only when a `!` rule may take something back.
    if (ignored && !ignore.rules.hasExceptions) return false;
    let kept = !ignored;
    for (const name of (await readdir(local)).sort()) {
      const child = `${local}/${name}`;
      if (await walk(child, `${rel}/${name}`, await lstat(child), found, ignore)) kept = true;
    }
    // Added, never removed: another root (a context around this one) may have taken it already.
    if (kept) found.set(rel, { t: 'd', p, local });
    return kept;
  }
  if (ignored) return false;
  if (info.isSymbolicLink()) found.set(rel, { t: 'l', l: await readlink(local), local });
  else if (info.isFile()) found.set(rel, { t: 'f', s: info.size, m: Math.trunc(info.mtimeMs), p, local });
  // Sockets, fifos and devices have no meaning on another machine.
  else return false;
  return true;
}

/** mkdir, or an existing directory (never a link to one). */
async function makeDir(sftp: ssh2.SFTPWrapper, path: string, mode: number): Promise<void> {
  await call(sftp, 'mkdir', path, { mode }).catch(async (error: unknown) => {
    const found = await call<ssh2.Stats>(sftp, 'lstat', path).catch(() => undefined);
    if (found?.isSymbolicLink()) throw errors.uploadThroughLink(path);
    if (!found?.isDirectory()) throw error;
  });
}

async function notALink(sftp: ssh2.SFTPWrapper, path: string, kind: 'd' | 'f'): Promise<void> {
  const found = await call<ssh2.Stats>(sftp, 'lstat', path).catch(() => undefined);
  if (found?.isSymbolicLink() || (kind === 'd' && found && !found.isDirectory())) throw errors.uploadThroughLink(path);
}

/**
 * Sends a file to a fresh name beside `to`, created exclusively (a planted link at that name
 * fails the open) with its mode from the start, then renames it over `to` (which replaces a link
 * there rather than writing through it). Chunks go in parallel, as with ssh2's fastPut.
 */
async function putFile(sftp: ssh2.SFTPWrapper, local: string, to: string, e: Entry): Promise<void> {
  const temp = posix.join(posix.dirname(to), `.prevu-${randomBytes(9).toString('base64url')}.tmp`);
  // owner-writable while being written (its own mode may be read-only), never more than that
  const handle = await call<Buffer>(sftp, 'open', temp, 'wx', { mode: (e.p! & 0o700) | 0o200 });
  const source = await open(local, 'r');
  try {
    const chunks = Array.from({ length: Math.ceil(e.s! / CHUNK) }, (_, i) => i * CHUNK);
    await pool(chunks, CHUNKS_IN_FLIGHT, async (position) => {
      const buffer = Buffer.alloc(Math.min(CHUNK, e.s! - position));
      const { bytesRead } = await source.read(buffer, 0, buffer.length, position);
      await call(sftp, 'write', handle, buffer, 0, bytesRead, position);
    });
    await call(sftp, 'fsetstat', handle, { mode: e.p!, atime: new Date(e.m!), mtime: new Date(e.m!) });
  } catch (error) {
    await call(sftp, 'close', handle).catch(() => undefined);
    await call(sftp, 'unlink', temp).catch(() => undefined);
    throw error;
  } finally {
    await source.close();
  }
  await call(sftp, 'close', handle);
  await call(sftp, 'ext_openssh_rename', temp, to).catch(async (error: unknown) => {
    await call(sftp, 'unlink', temp).catch(() => undefined);
    throw error;
  });
}

async function readManifest(sftp: ssh2.SFTPWrapper, path: string): Promise<Manifest> {
  const text = await call<Buffer>(sftp, 'readFile', path).catch(() => undefined);
  if (!text) return { version: 1, entries: {} };
  try {
    const parsed = manifestSchema.safeParse(JSON.parse(text.toString('utf8')));
    // An unreadable manifest (an upload cut while writing it) costs one full upload, nothing else.
    return parsed.success ? parsed.data : { version: 1, entries: {} };
  } catch {
    return { version: 1, entries: {} };
  }
}

function writeManifest(sftp: ssh2.SFTPWrapper, path: string, entries: Manifest['entries']): Promise<void> {
  const manifest: Manifest = { version: 1, entries };
  return call(sftp, 'writeFile', path, JSON.stringify(manifest));
}

/** Entries grouped by depth, shallowest first. */
function byDepth<T extends [string, unknown]>(items: T[]): T[][] {
  const levels: T[][] = [];
  for (const item of items) (levels[item[0].split('/').length] ??= []).push(item);
  return levels.filter(Boolean);
}
