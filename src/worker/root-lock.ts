/**
 * One worker per runtime root. Two workers on one root would race: each sweeps the root at
 * start, and a sweep that finds `list` hung ends the lock holders of that root, which may be the
 * other worker's `run` processes. So a worker holds an exclusive lock on its root while it runs,
 * and a second one is refused at start, naming the root and the holder.
 *
 * The lock is the kernel's flock(2) on the root directory itself, held by a child `flock`
 * (util-linux) that runs `cat` on a pipe from this process. Why this and not a pid file:
 * - the kernel drops the lock when its holder dies, however it dies (SIGKILL, OOM): nothing
 *   stale to detect, no pid that the system may have reused, no race between two workers that
 *   both find a stale file and both take it over;
 * - the holder dies with the worker: `cat` ends at EOF on its stdin, which closes when this
 *   process exits, whatever way;
 * - no file is added anywhere: the root holds only runtime state (runsc never flocks the
 *   directory itself, only its `<id>_sandbox:<id>.lock` files), and nothing is left to remove.
 * The holder runs in a process group of its own, so a Ctrl-C to the worker's group does not
 * end it (and with it the lock) while the worker drains.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, lstat, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The lock holder's exit status when the root is locked already (flock's --conflict-exit-code). */
const conflictExitCode = 75;
const handshake = 'locked\n';

export class RootInUse extends Error {
  override name = 'RootInUse';
  constructor(
    readonly root: string,
    readonly holderPid: number | undefined,
    holder: string,
  ) {
    super(
      `runtime root ${root} is in use by ${holder}: two workers on one root would sweep and abort each other's containers; stop that worker or give this one another --root`,
    );
  }
}

export interface RootLock {
  readonly root: string;
  /** Rejects if the lock is lost while held (its holder process died): the worker must stop. */
  readonly lost: Promise<never>;
  /** Drops the lock (idempotent); resolves once the holder process has exited. */
  release(): Promise<void>;
}

/** Takes the root's lock, creating the directory if needed; RootInUse when another holds it. */
export async function lockRoot(rootPath: string, options: { flock?: string } = {}): Promise<RootLock> {
  const root = resolve(rootPath);
  // runsc's `<id>_sandbox:<id>.state` files hold each container's whole spec, env and secrets
  // included, readable by group (0640): the root itself is what keeps them to root.
  await mkdir(root, { recursive: true, mode: 0o700 });
  const stat = await lstat(root);
  if (!stat.isDirectory()) {
    throw new Error(
      `runtime root ${root} is not a directory (a symlink or a file): point --root at a directory`,
    );
  }
  await closeRoot(root, stat);
  return holdFlock(
    root,
    'the runtime root',
    async () => {
      const holder = await describeHolder(await lockHolderOf(root));
      return new RootInUse(root, holder.pid, holder.text);
    },
    options.flock,
  );
}

/**
 * Holds flock(2) on `path` (a directory, or a file flock creates) in a child holder, as above;
 * `conflict` makes the error thrown when another process holds it.
 */
async function holdFlock(
  path: string,
  what: string,
  conflict: () => Promise<Error>,
  flock = 'flock',
): Promise<RootLock> {
  const root = path;
  const child = spawn(
    flock,
    ['--nonblock', `--conflict-exit-code=${conflictExitCode}`, '--no-fork', root, 'cat'],
    { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (done) => {
      child.once('error', (error) => done({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => done({ code, signal }));
    },
  );
  // A write to a holder that exited at once (conflict) fails with EPIPE: the exit says why.
  child.stdin?.on('error', () => undefined);

  // `cat` echoes what it reads: the handshake coming back means flock holds the lock and runs it.
  const acquired = await new Promise<boolean>((done) => {
    let echoed = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      echoed += chunk.toString();
      if (echoed.includes(handshake)) done(true);
    });
    void exited.then(() => done(false));
    child.stdin?.write(handshake);
  });
  if (!acquired) {
    const { code, signal, error } = await exited;
    if (code === conflictExitCode) throw await conflict();
    if (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(
        missing
          ? `cannot lock ${what}: \`flock\` is not installed (it comes with util-linux)`
          : `cannot lock ${what} ${root}: ${error.message}`,
      );
    }
    throw new Error(
      `cannot lock ${what} ${root}: flock ended with ${signal ?? `exit code ${code}`}: ${stderr.trim()}`,
    );
  }
  // Neither the holder nor its pipes keep this process alive; at exit the pipe closes, and it ends.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }

  let released = false;
  const lost = exited.then(({ code, signal }) => {
    if (released) return new Promise<never>(() => undefined);
    throw new Error(
      `lost the lock on ${what} ${root}: its holder (pid ${child.pid}) ended with ${signal ?? `exit code ${code}`}`,
    );
  });
  // Nobody may be listening yet: a rejection must not count as unhandled.
  lost.catch(() => undefined);
  return {
    root,
    lost,
    async release() {
      if (!released) {
        released = true;
        // Waited for below: it must keep this process alive until it has gone.
        child.ref();
        child.stdin?.end();
      }
      await exited;
    },
  };
}

/**
 * Tightens a root open to group or others to 0700 (runsc makes a missing root 0711, and an
 * operator's mkdir 0755): nothing but root needs to enter it. One owned by another user is
 * refused: its owner could swap what the worker reads there.
 */
async function closeRoot(root: string, stat: Stats): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  if (stat.uid !== uid) {
    throw new Error(`runtime root ${root} is owned by uid ${stat.uid}, not this worker's (${uid}): chown it`);
  }
  if ((stat.mode & 0o077) !== 0) await chmod(root, 0o700);
}

/**
 * One worker per host queue on this machine. Two workers with different roots but the same
 * host name (hostname() by default) would serve the same `<taskQueue>@<host>`: a retry or a
 * cleanup meant for one root's containers would reach the other's. A worker holds a flock on
 * `<dir>/<hostQueue, sanitised>.lock` while it runs, the same way as the root's. The directory
 * is the machine's, never inside a runtime root (which holds only runtime state); the empty lock
 * files stay (removing one races with a worker taking it) and go with /run at boot.
 */
export const defaultQueueLockDir = '/run/temporal-runsc-queues';

export class HostQueueInUse extends Error {
  override name = 'HostQueueInUse';
  constructor(
    readonly hostQueue: string,
    readonly holderPid: number | undefined,
    holder: string,
  ) {
    super(
      `host queue ${hostQueue} is served by ${holder} on this machine: two workers on one host queue would take each other's retries and cleanups; give this worker another --host (or --host-queue)`,
    );
  }
}

/** The lock file's name: the queue's safe characters, and a hash so that two names never share one. */
export function queueLockName(hostQueue: string): string {
  const safe = hostQueue.replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 100);
  return `${safe}.${createHash('sha256').update(hostQueue).digest('hex').slice(0, 12)}.lock`;
}

/** Takes the host queue's lock on this machine; HostQueueInUse when another worker holds it. */
export async function lockHostQueue(
  hostQueue: string,
  options: { dir?: string; flock?: string } = {},
): Promise<RootLock> {
  const dir = resolve(options.dir ?? defaultQueueLockDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await lstat(dir);
  // Root's own directory: another user's, or a symlink, could point the lock file anywhere.
  if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) {
    throw new Error(
      `host queue lock directory ${dir} is not a directory of this user that only it can write: remove it, the worker creates it`,
    );
  }
  const file = join(dir, queueLockName(hostQueue));
  const existing = await lstat(file).catch(() => undefined);
  if (existing && !existing.isFile()) {
    throw new Error(`host queue lock ${file} is not a plain file: remove it, the worker creates it`);
  }
  return holdFlock(
    file,
    `the lock file of host queue ${hostQueue},`,
    async () => {
      const holder = await describeHolder(await lockHolderOf(file));
      return new HostQueueInUse(hostQueue, holder.pid, holder.text);
    },
    options.flock,
  );
}

/** Both locks as one: lost when either is, released together. */
export function bothLocks(first: RootLock | undefined, second: RootLock | undefined): RootLock | undefined {
  if (!first || !second) return first ?? second;
  const lost = Promise.race([first.lost, second.lost]);
  lost.catch(() => undefined);
  return {
    root: first.root,
    lost,
    async release() {
      await Promise.all([first.release(), second.release()]);
    },
  };
}

/**
 * The process holding a flock on `path`, from /proc/locks (the kernel's own record): its lines
 * read `1: FLOCK  ADVISORY  WRITE <pid> <major>:<minor>:<inode> 0 EOF`, major and minor in hex.
 */
export async function lockHolderOf(path: string): Promise<number | undefined> {
  const stat = await lstat(path, { bigint: true }).catch(() => undefined);
  const locks = await readFile('/proc/locks', 'utf8').catch(() => '');
  if (!stat) return undefined;
  // glibc's gnu_dev_major/minor of st_dev.
  const major = ((stat.dev >> 8n) & 0xfffn) | ((stat.dev >> 32n) & ~0xfffn);
  const minor = (stat.dev & 0xffn) | ((stat.dev >> 12n) & ~0xffn);
  return parseLockHolder(
    locks,
    `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${stat.ino}`,
  );
}

/** The pid of the FLOCK on this `<major>:<minor>:<inode>` in /proc/locks' text (not waiters, `->`). */
export function parseLockHolder(locks: string, file: string): number | undefined {
  for (const line of locks.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === 'FLOCK' && fields[5] === file && fields[4]) return Number(fields[4]);
  }
  return undefined;
}

/** The worker behind the holder (`cat`, a child of the worker) and how to name it. */
async function describeHolder(holderPid: number | undefined): Promise<{ pid?: number; text: string }> {
  if (holderPid === undefined) return { text: 'another process (not found in /proc/locks)' };
  const status = await readFile(`/proc/${holderPid}/status`, 'utf8').catch(() => '');
  const parent = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  const pid = parent > 1 ? parent : holderPid;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const args = cmdline.split('\0').filter(Boolean).join(' ').slice(0, 200);
  return { pid, text: `pid ${pid}${args ? ` (${args})` : ''}` };
}
