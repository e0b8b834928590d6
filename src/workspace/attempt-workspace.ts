import { constants } from 'node:fs';
import { chown, lstat, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerOwner } from '../host/owner.js';
import { type LogCaps, OutputLog } from '../output/log-writer.js';
import type { AdmittedSource } from '../policy/admit.js';
import { validateContainerId } from '../runtime/container-id.js';
import { mountTmpfs, unmount } from './mounts.js';
import { pinMounts, unpinMounts } from './pinned-mounts.js';
import { type ResultRead, readResultFile } from './result-file.js';

export interface WorkspaceSettings {
  /** The worker's folder: `runs/<id>` (one per attempt, removed after it) and `logs/<id>.log`. */
  workDir: string;
  /** Size of the attempt's `/out` (a tmpfs of its own). */
  outBytes: number;
  logCaps: LogCaps;
}

/** A host path of the workspace that is not what it must be: the attempt does not start. */
export class WorkspaceError extends Error {
  override name = 'WorkspaceError';
}

/** Written with the workspace, so a sweep by another process can tell whose it is. */
export const ownerFileName = 'owner.json';

const newFile = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export function runsDir(workDir: string): string {
  return join(workDir, 'runs');
}

export function logsDir(workDir: string): string {
  return join(workDir, 'logs');
}

/**
 * Everything one attempt needs on the host, made by one owner and removed by it: the run
 * folder (0700), the bundle folder in it, `/out` as a size-capped tmpfs owned by the step's
 * user, and the attempt's output log (0600, kept for the retention sweep). Paths derive only
 * from the validated container id, and each is created new: a path that already exists (a
 * leftover, or a link planted there) is refused rather than followed or reused.
 */
export class AttemptWorkspace {
  readonly runDir: string;
  readonly bundleDir: string;
  readonly outDir: string;
  readonly logPath: string;
  /** runsc's own JSON error log (`--log`), inside the run folder. */
  readonly runtimeLogPath: string;
  /** The admitted bind-mount sources, pinned under the run folder (pinned-mounts.ts): the bundle's sources. */
  pinnedSources: string[] = [];
  private mounted = false;
  private disposed = false;

  private constructor(
    readonly containerId: string,
    private readonly settings: WorkspaceSettings,
  ) {
    this.runDir = join(runsDir(settings.workDir), containerId);
    this.bundleDir = join(this.runDir, 'bundle');
    this.outDir = join(this.runDir, 'out');
    this.logPath = join(logsDir(settings.workDir), `${containerId}.log`);
    this.runtimeLogPath = join(this.runDir, 'runtime.json');
  }

  /**
   * Creates the run folder, the owner record and `/out` (mounted, then given to `user`). On any
   * failure what was made is removed again before the error is thrown.
   */
  static async create(
    settings: WorkspaceSettings,
    containerId: string,
    owner: ContainerOwner,
    user: { uid: number; gid: number },
    mountSources: readonly AdmittedSource[] = [],
  ): Promise<AttemptWorkspace> {
    const workspace = new AttemptWorkspace(validateContainerId(containerId), settings);
    await ensureFolder(settings.workDir, { recursive: true });
    await ensureFolder(runsDir(settings.workDir));
    await ensureFolder(logsDir(settings.workDir));
    await newFolder(workspace.runDir);
    try {
      await writeNewFile(join(workspace.runDir, ownerFileName), JSON.stringify(owner));
      await newFolder(workspace.outDir);
      await mountTmpfs(workspace.outDir, settings.outBytes);
      workspace.mounted = true;
      await chown(workspace.outDir, user.uid, user.gid);
      workspace.pinnedSources = await pinMounts(workspace.runDir, mountSources);
      return workspace;
    } catch (error) {
      await workspace.dispose().catch(() => undefined);
      throw error;
    }
  }

  /** The attempt's output log, created new (0600); fails if anything already has its name. */
  async openLog(): Promise<OutputLog> {
    try {
      return await OutputLog.create(this.logPath, this.settings.logCaps);
    } catch (error) {
      throw new WorkspaceError(
        `cannot create the output log ${this.logPath} (${(error as NodeJS.ErrnoException).code ?? String(error)}): a file or link already has its name; remove it`,
      );
    }
  }

  /** Reads `/out/<name>` as hostile input (readResultFile). */
  readResult(name: string, maxBytes: number, shown: string): Promise<ResultRead> {
    return readResultFile(join(this.outDir, name), maxBytes, shown);
  }

  /**
   * Removes the bundle first (its config.json holds the step's env, secrets included), whatever
   * else fails; then unpins the mount sources and unmounts `/out` (lazily if busy), and removes
   * the run folder only when nothing is mounted in it any more. Removal never
   * follows a link a step left in `/out`. A step that fails does not stop the next; all failures
   * are reported together, and what is left is the sweep's. Idempotent; the log stays.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    const problems: string[] = [];
    await rm(this.bundleDir, { recursive: true, force: true }).catch((error: Error) => {
      problems.push(`cannot remove the bundle ${this.bundleDir}: ${error.message}`);
    });
    // A pinned source still mounted would let the removal reach into the operator's folder.
    const pinsGone = await unpinMounts(this.runDir).then(
      () => true,
      (error: Error) => {
        problems.push(error.message);
        return false;
      },
    );
    if (this.mounted) {
      if (await unmount(this.outDir).catch(() => false)) this.mounted = false;
      else problems.push(`cannot unmount ${this.outDir}`);
    }
    // Never rm through a mount: the run folder waits for the sweep.
    if (!this.mounted && pinsGone) {
      await rm(this.runDir, { recursive: true, force: true }).catch((error: Error) => {
        problems.push(`cannot remove ${this.runDir}: ${error.message}`);
      });
    }
    if (problems.length > 0) {
      throw new WorkspaceError(`${problems.join('; ')}: the run folder is left for the sweep`);
    }
    this.disposed = true;
  }
}

/** An operator's folder: made if missing, and it must be a real folder, not a link. */
async function ensureFolder(path: string, options: { recursive?: boolean } = {}): Promise<void> {
  await mkdir(path, { mode: 0o700, recursive: options.recursive ?? false }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    },
  );
  const info = await lstat(path);
  if (!info.isDirectory()) {
    throw new WorkspaceError(`${path} is not a folder (a link, or a file): fix the worker's work dir`);
  }
}

async function newFolder(path: string): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new WorkspaceError(
        `${path} already exists: a leftover of a crashed worker (its sweep removes it) or planted there; refusing to reuse it`,
      );
    }
    throw error;
  }
}

async function writeNewFile(path: string, text: string): Promise<void> {
  const file = await open(path, newFile, 0o600);
  try {
    await file.writeFile(text);
  } finally {
    await file.close();
  }
}
