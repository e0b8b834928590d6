/**
 * The host's image cache: one unpacked root filesystem per image, keyed by its manifest digest,
 * shared read-only by every step that uses it (each step writes into runsc's overlay, never
 * here). An image is fetched (skopeo) and unpacked (umoci) aside, in a temporary folder, and
 * renamed into place only when whole: a half-unpacked image is never used, not even after a
 * crash. Concurrent first uses in one process share one unpack. A budget (bytes, age) removes
 * images no step uses, least recently used first.
 *
 * Layout (the folder is root's, mode 0700: image files keep their owners, set-id bits and
 * device nodes, which no other host user may reach):
 *   <dir>/sha256-<hex>/rootfs         the root filesystem
 *   <dir>/sha256-<hex>/image.json     digest, reference, checked config, size; mtime = last use
 *   <dir>/users/<hex>.<pid>.<n>       one per step using an image now (for other processes' sweeps)
 *   <dir>/.tmp-<pid>-<rand>/          an unpack in progress; <dir>/.trash-<pid>-<rand>/ a removal
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, rename, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readRegularFile } from '../host/read-regular-file.js';
import { type ImageDefaults, imageDefaultsFrom, imageDefaultsSchema } from './config.js';
import { digestPattern, type ImageReference, skopeoSource } from './reference.js';
import { type InspectedImage, Skopeo } from './skopeo.js';
import { ImageToolError } from './tool.js';
import { Umoci } from './umoci.js';

export interface ImageCacheOptions {
  /** The cache folder (created 0700; must be a real folder, not a link). */
  dir: string;
  skopeo?: Skopeo;
  umoci?: Umoci;
  /** Total size of unpacked images kept; past it, unused ones go, least recently used first. */
  maxBytes: number;
  /** An image no step used for this long is removed. */
  maxAgeMs: number;
  /** Largest image taken: its layers as stored (checked before the fetch) and unpacked. */
  maxImageBytes: number;
  /** Deadline of one fetch and of one unpack. */
  pullTimeoutMs: number;
  /** How long a tag's resolution is reused (0: every use asks the registry). */
  tagTtlMs: number;
  /** Registries reached without TLS (`host:port`), as the operator allowed. */
  insecureRegistries?: readonly string[];
  /** Called after each fetch and unpack (a metrics hook). */
  onPull?: (event: ImagePullEvent) => void;
}

export interface ImagePullEvent {
  reference: string;
  digest: string;
  outcome: 'unpacked' | 'failed';
  durationMs: number;
  bytes?: number;
  error?: string;
}

/** A step's hold on an image: its root filesystem stays until `release`. */
export interface ImageUse {
  reference: string;
  digest: string;
  rootfs: string;
  config: ImageDefaults;
  /** True when this use fetched and unpacked it (a cold start). */
  unpacked: boolean;
  release(): Promise<void>;
}

/** Why an image cannot be used. `retryable`: the registry may answer later; otherwise the input must change. */
export class ImageError extends Error {
  override name = 'ImageError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly stderr = '',
  ) {
    super(message);
  }
}

export interface ImageCollectReport {
  dir: string;
  removed: { digest: string; bytes: number; why: 'age' | 'size' | 'broken' }[];
  keptBytes: number;
  problems: string[];
}

const recordSchema = z.strictObject({
  digest: z.string().regex(digestPattern),
  reference: z.string(),
  bytes: z.number().int().nonnegative(),
  unpackedAt: z.string(),
  config: imageDefaultsSchema,
});
type ImageRecord = z.output<typeof recordSchema>;

const tag = 'image';
const recordMaxBytes = 2 * 1024 * 1024;
const entryPattern = /^sha256-([a-f0-9]{64})$/;
const scratchPattern = /^\.(tmp|trash)-(\d+)-[a-f0-9]+$/;
const userPattern = /^([a-f0-9]{64})\.(\d+)\.\d+$/;

export class ImageCache {
  readonly dir: string;
  private readonly skopeo: Skopeo;
  private readonly umoci: Umoci;
  /** Unpacks under way in this process, by digest: concurrent first uses wait for one. */
  private readonly unpacking = new Map<string, Promise<ImageRecord>>();
  /** Steps of this process using each digest now. */
  private readonly inUse = new Map<string, number>();
  /** Removals under way, by digest: a use waits for it and unpacks again. */
  private readonly removing = new Map<string, Promise<void>>();
  private readonly tags = new Map<string, { digest: string; at: number }>();
  /** What the last resolve of a digest said (its sizes), for the unpack that follows it. */
  private readonly inspected = new Map<string, InspectedImage>();
  /** Records read or written by this process (the entry's rootfs is checked on each use). */
  private readonly records = new Map<string, ImageRecord>();
  private userSeq = 0;

  private constructor(readonly options: ImageCacheOptions) {
    this.dir = options.dir;
    this.skopeo = options.skopeo ?? new Skopeo();
    this.umoci = options.umoci ?? new Umoci();
  }

  /** Makes (or checks) the folder, removes what crashed processes left, applies the budget. */
  static async open(options: ImageCacheOptions): Promise<ImageCache> {
    const cache = new ImageCache(options);
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const info = await lstat(options.dir);
    if (!info.isDirectory()) {
      throw new Error(
        `image cache ${options.dir} is not a folder (a link?): point images.cache.dir at a folder`,
      );
    }
    if (info.uid !== process.getuid?.()) {
      throw new Error(
        `image cache ${options.dir} is owned by uid ${info.uid}, not this worker: fix its owner`,
      );
    }
    await chmod(options.dir, 0o700);
    await mkdir(cache.usersDir, { recursive: true, mode: 0o700 });
    await cache.collect();
    return cache;
  }

  private get usersDir(): string {
    return join(this.dir, 'users');
  }

  /**
   * The digest `ref` names now: its own when pinned, else the tag's (asked of the registry,
   * or reused within tagTtlMs), else what a local layout or archive holds.
   */
  async resolve(
    ref: ImageReference,
    options: { localPath?: string; signal?: AbortSignal } = {},
  ): Promise<string> {
    if (ref.kind === 'registry' && ref.digest) return ref.digest;
    const key =
      ref.kind === 'registry' ? ref.text : `${ref.kind}:${options.localPath ?? ref.path}:${ref.tag ?? ''}`;
    const memo = this.tags.get(key);
    if (ref.kind === 'registry' && memo && Date.now() - memo.at < this.options.tagTtlMs) return memo.digest;
    const inspected = await this.inspect(ref, undefined, options);
    if (ref.kind === 'registry') this.tags.set(key, { digest: inspected.digest, at: Date.now() });
    // A first use unpacks right after: it need not ask the source again for the sizes.
    this.inspected.set(inspected.digest, inspected);
    return inspected.digest;
  }

  /**
   * Holds the image `digest` of `ref` for one step, fetching and unpacking it on first use.
   * The caller must `release` it when the step's sandbox is gone.
   */
  async use(
    ref: ImageReference,
    digest: string,
    options: { localPath?: string; signal?: AbortSignal } = {},
  ): Promise<ImageUse> {
    if (!digestPattern.test(digest)) throw new ImageError(`image: ${digest} is not a sha256 digest`, false);
    const hex = digest.slice('sha256:'.length);
    await this.removing.get(digest);
    // Held before the lookup: a sweep (this process's or another's) skips it from now on.
    this.inUse.set(digest, (this.inUse.get(digest) ?? 0) + 1);
    const marker = join(this.usersDir, `${hex}.${process.pid}.${++this.userSeq}`);
    let held = true;
    const release = async () => {
      if (!held) return;
      held = false;
      const left = (this.inUse.get(digest) ?? 1) - 1;
      if (left > 0) this.inUse.set(digest, left);
      else this.inUse.delete(digest);
      await rm(marker, { force: true });
    };
    try {
      await writeNew(marker, '');
      let record = await this.readRecord(hex);
      let unpacked = false;
      if (!record) {
        let pending = this.unpacking.get(digest);
        if (!pending) {
          pending = this.unpack(ref, digest, options.localPath).finally(() => this.unpacking.delete(digest));
          this.unpacking.set(digest, pending);
          unpacked = true;
        }
        // The unpack goes on for other steps if this one is cancelled; this one stops waiting.
        record = await abortable(pending, options.signal);
      } else {
        this.inspected.delete(digest);
        // The last use is the record's mtime: what the age budget reads.
        const now = new Date();
        await utimes(join(this.entryDir(hex), 'image.json'), now, now).catch(() => undefined);
      }
      return {
        reference: ref.text,
        digest,
        rootfs: join(this.entryDir(hex), 'rootfs'),
        config: record.config,
        unpacked,
        release,
      };
    } catch (error) {
      await release();
      throw error;
    }
  }

  /**
   * Removes images past the age budget, then the least recently used until the size budget
   * holds; never one in use (by this process, or one with a live process's marker). Also what
   * crashed processes left (unpacks half done, removals half done, markers).
   */
  async collect(now = Date.now()): Promise<ImageCollectReport> {
    const report: ImageCollectReport = { dir: this.dir, removed: [], keptBytes: 0, problems: [] };
    const names = await readdir(this.dir).catch((error: Error) => {
      report.problems.push(`cannot read ${this.dir}: ${error.message}`);
      return [] as string[];
    });
    const busy = await this.busyDigests();
    const entries: { hex: string; bytes: number; lastUse: number }[] = [];
    for (const name of names) {
      const scratch = scratchPattern.exec(name);
      if (scratch) {
        if (!pidAlive(Number(scratch[2]))) await this.remove(join(this.dir, name), report);
        continue;
      }
      const match = entryPattern.exec(name);
      if (!match) continue;
      const hex = match[1] as string;
      const record = await this.readRecord(hex);
      const stat = await lstat(join(this.entryDir(hex), 'image.json')).catch(() => undefined);
      if (!record || !stat) {
        if (!busy.has(`sha256:${hex}`)) {
          await this.removeEntry(hex, report);
          report.removed.push({ digest: `sha256:${hex}`, bytes: 0, why: 'broken' });
        }
        continue;
      }
      entries.push({ hex, bytes: record.bytes, lastUse: stat.mtimeMs });
    }
    entries.sort((a, b) => a.lastUse - b.lastUse);
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    for (const entry of entries) {
      const digest = `sha256:${entry.hex}`;
      const why =
        now - entry.lastUse > this.options.maxAgeMs
          ? 'age'
          : total > this.options.maxBytes
            ? 'size'
            : undefined;
      if (!why || busy.has(digest) || this.inUse.has(digest) || this.unpacking.has(digest)) continue;
      await this.removeEntry(entry.hex, report);
      total -= entry.bytes;
      report.removed.push({ digest, bytes: entry.bytes, why });
    }
    report.keptBytes = total;
    return report;
  }

  private entryDir(hex: string): string {
    return join(this.dir, `sha256-${hex}`);
  }

  private async inspect(
    ref: ImageReference,
    digest: string | undefined,
    options: { localPath?: string; signal?: AbortSignal },
  ) {
    try {
      return await this.skopeo.inspect(skopeoSource(ref, digest, options.localPath), {
        insecure: this.insecure(ref),
        signal: options.signal,
      });
    } catch (error) {
      throw asImageError(ref, error);
    }
  }

  private insecure(ref: ImageReference): boolean {
    return ref.kind === 'registry' && (this.options.insecureRegistries ?? []).includes(ref.registry);
  }

  /** Fetch and unpack aside, check, then rename into place (or take the one another process put there). */
  private async unpack(
    ref: ImageReference,
    digest: string,
    localPath: string | undefined,
  ): Promise<ImageRecord> {
    const started = Date.now();
    const hex = digest.slice('sha256:'.length);
    const scratch = join(this.dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    const deadline = AbortSignal.timeout(this.options.pullTimeoutMs);
    try {
      await mkdir(scratch, { mode: 0o700 });
      // The size as stored is known before anything is fetched: a huge image costs no disk.
      const known = this.inspected.get(digest);
      this.inspected.delete(digest);
      const inspected = known ?? (await this.inspect(ref, digest, { localPath, signal: deadline }));
      if (ref.kind === 'registry' && inspected.digest !== digest) {
        throw new ImageError(`image: ${ref.text} answered with ${inspected.digest}, not ${digest}`, true);
      }
      if (inspected.layerBytes !== undefined && inspected.layerBytes > this.options.maxImageBytes) {
        throw tooLarge(ref, inspected.layerBytes, this.options.maxImageBytes, 'its layers');
      }
      const layout = join(scratch, 'layout');
      const bundle = join(scratch, 'bundle');
      try {
        await this.skopeo.copy(skopeoSource(ref, digest, localPath), layout, tag, {
          insecure: this.insecure(ref),
          timeoutMs: this.options.pullTimeoutMs,
          signal: deadline,
        });
        await this.umoci.unpack(layout, tag, bundle, {
          timeoutMs: this.options.pullTimeoutMs,
          signal: deadline,
        });
      } catch (error) {
        throw asImageError(ref, error);
      }
      const config = imageDefaultsFrom(
        await this.skopeo.config(layout, tag).catch((error: unknown) => {
          throw asImageError(ref, error);
        }),
        await readJson(join(bundle, 'config.json')),
      );
      const bytes = await treeBytes(join(bundle, 'rootfs'), this.options.maxImageBytes);
      if (bytes > this.options.maxImageBytes) {
        throw tooLarge(ref, bytes, this.options.maxImageBytes, 'unpacked');
      }
      const record: ImageRecord = {
        digest,
        reference: ref.text,
        bytes,
        unpackedAt: new Date().toISOString(),
        config,
      };
      // The entry holds the root filesystem and our record only: umoci's config.json (which
      // carries the image's annotations, dev.gvisor.* included) and its metadata go.
      const entry = join(scratch, 'entry');
      await mkdir(entry, { mode: 0o700 });
      await rename(join(bundle, 'rootfs'), join(entry, 'rootfs'));
      await writeNew(join(entry, 'image.json'), `${JSON.stringify(record)}\n`);
      try {
        await rename(entry, this.entryDir(hex));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // Another process finished first: its copy is as good (same digest).
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        const theirs = await this.readRecord(hex);
        if (!theirs) throw error;
        return theirs;
      }
      this.options.onPull?.({
        reference: ref.text,
        digest,
        outcome: 'unpacked',
        durationMs: Date.now() - started,
        bytes,
      });
      // A new image may put the cache over its budget: unused ones make room.
      void this.collect().catch(() => undefined);
      return record;
    } catch (error) {
      this.options.onPull?.({
        reference: ref.text,
        digest,
        outcome: 'failed',
        durationMs: Date.now() - started,
        error: (error as Error).message,
      });
      throw error;
    } finally {
      await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private async readRecord(hex: string): Promise<ImageRecord | undefined> {
    const dir = this.entryDir(hex);
    const info = await lstat(join(dir, 'rootfs')).catch(() => undefined);
    if (!info?.isDirectory()) return undefined;
    const known = this.records.get(hex);
    if (known) return known;
    const parsed = recordSchema.safeParse(await readJson(join(dir, 'image.json')));
    if (!parsed.success || parsed.data.digest !== `sha256:${hex}`) return undefined;
    this.records.set(hex, parsed.data);
    return parsed.data;
  }

  /** Digests with a marker of a live process (this one's included). */
  private async busyDigests(): Promise<Set<string>> {
    const busy = new Set<string>();
    for (const name of await readdir(this.usersDir).catch(() => [] as string[])) {
      const match = userPattern.exec(name);
      if (!match) continue;
      const pid = Number(match[2]);
      if (pidAlive(pid)) busy.add(`sha256:${match[1]}`);
      else await rm(join(this.usersDir, name), { force: true }).catch(() => undefined);
    }
    return busy;
  }

  /** Renamed aside first (no step finds it half removed), then removed; links are never followed. */
  private async removeEntry(hex: string, report: ImageCollectReport): Promise<void> {
    const digest = `sha256:${hex}`;
    const removal = (async () => {
      const trash = join(this.dir, `.trash-${process.pid}-${randomBytes(6).toString('hex')}`);
      this.records.delete(hex);
      try {
        await rename(this.entryDir(hex), trash);
      } catch (error) {
        report.problems.push(`cannot remove ${this.entryDir(hex)}: ${(error as Error).message}`);
        return;
      }
      await this.remove(trash, report);
    })();
    this.removing.set(digest, removal);
    try {
      await removal;
    } finally {
      this.removing.delete(digest);
    }
  }

  private async remove(path: string, report: ImageCollectReport): Promise<void> {
    await rm(path, { recursive: true, force: true }).catch((error: Error) => {
      report.problems.push(`cannot remove ${path}: ${error.message}`);
    });
  }
}

/** A tool's failure as the step's author should read it: what, which reference, retry or not. */
function asImageError(ref: ImageReference, error: unknown): Error {
  if (error instanceof ImageError || !(error instanceof ImageToolError)) return error as Error;
  const where = ref.kind === 'registry' ? `registry ${ref.registry}` : ref.path;
  const detail = error.message;
  switch (error.reason) {
    case 'unreachable':
      return new ImageError(
        `image: cannot reach ${where} for ${ref.text} (the registry is down or unreachable; the step is retried): ${detail}`,
        true,
        error.stderr,
      );
    case 'not-found':
      return new ImageError(
        `image: ${ref.text} was not found at ${where}: check the name and tag: ${detail}`,
        false,
        error.stderr,
      );
    case 'denied':
      return new ImageError(
        `image: ${where} refused the worker's credentials for ${ref.text} (the operator's auth file): ${detail}`,
        false,
        error.stderr,
      );
    case 'aborted':
      return new ImageError(`image: fetching ${ref.text} was stopped`, true, error.stderr);
    default:
      return new ImageError(`image: cannot fetch or unpack ${ref.text}: ${detail}`, true, error.stderr);
  }
}

function tooLarge(ref: ImageReference, bytes: number, max: number, what: string): ImageError {
  return new ImageError(
    `image: ${ref.text} is too large (${what}: ${bytes} bytes; policy.images.maxImageBytes: ${max}): use a smaller image or ask the operator to raise the limit`,
    false,
  );
}

/**
 * Bytes of a tree (regular files once per inode, plus a block per folder and link), stopping
 * once past `stopAt`. lstat only: no link is followed.
 */
async function treeBytes(root: string, stopAt: number): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const stack = [root];
  while (stack.length > 0 && total <= stopAt) {
    const dir = stack.pop() as string;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        stack.push(path);
        total += 4096;
      } else if (entry.isFile()) {
        const info = await lstat(path);
        const id = `${info.dev}:${info.ino}`;
        if (seen.has(id)) continue;
        seen.add(id);
        total += info.size;
      } else total += 512;
    }
  }
  return total;
}

async function readJson(path: string): Promise<unknown> {
  const read = await readRegularFile(path, { maxBytes: recordMaxBytes }).catch(() => undefined);
  return read === undefined ? undefined : safeJson(read.bytes.toString('utf8'));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function writeNew(path: string, text: string): Promise<void> {
  const file = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await file.writeFile(text);
  } finally {
    await file.close();
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) throw new ImageError('image: the step was cancelled while its image was fetched', true);
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        onAbort = () =>
          reject(new ImageError('image: the step was cancelled while its image was fetched', true));
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
