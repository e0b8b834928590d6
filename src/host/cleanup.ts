import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { containerIdPrefix } from '../runtime/container-id.js';
import { RuntimeTimeout } from '../runtime/errors.js';
import type { Runsc } from '../runtime/runsc.js';
import type { ContainerState } from '../runtime/types.js';
import type { LiveContainers } from './live-containers.js';
import { ownerAlive, ownerOfBundle } from './owner.js';
import { type HostProcess, processesHoldingFilesIn, processesOfRoot } from './processes.js';

export interface CleanupOptions {
  /** Containers this process runs now: never touched. */
  live?: LiveContainers;
  /** Only containers whose id starts with this are ours to clean. Default `trs-`. */
  prefix?: string;
  /** Deadline for `list`; past it the list counts as hung. Default 5 s. */
  listTimeoutMs?: number;
  /** Grace between TERM and KILL for orphans still running. Default 1 s. */
  graceMs?: number;
  /** Where cgroup hierarchies are mounted. Default `/sys/fs/cgroup`. */
  cgroupRoot?: string;
  /** The cgroup parent our bundles use. Default `temporal-runsc`. */
  cgroupParent?: string;
  /**
   * Leave cgroups younger than this alone: another root's container may be starting and own an
   * empty cgroup for a moment. Default 60 s.
   */
  cgroupMinAgeMs?: number;
  /**
   * Also empty the whole state directory, after the sweep. Refused while any runtime process
   * of this root (a sandbox, a gofer, a `run`) is still alive.
   */
  wipe?: boolean;
}

export type ContainerAction = 'aborted' | 'kept-live' | 'kept-owned' | 'kept-foreign' | 'failed';

export interface CleanupReport {
  root: string;
  /** `list` did not answer within its deadline at first. */
  listHung: boolean;
  /** Processes that held this root's lock files (or hung on them) and were ended. */
  hungProcessesKilled: HostProcess[];
  containers: { id: string; status: string; action: ContainerAction; detail?: string }[];
  lockFilesRemoved: string[];
  cgroupsRemoved: string[];
  wiped: boolean;
  problems: string[];
}

/**
 * Finds and clears this host's stuck state for one runtime root, the way an operator would by
 * hand, but with deadlines and without touching what is not ours: containers of this library
 * (id prefix or owner annotation) that no live attempt owns, containers left `stopped`, lone
 * lock files, cgroups left under a container's id, and runtime processes hung on a lock.
 */
export async function cleanupHost(runtime: Runsc, options: CleanupOptions = {}): Promise<CleanupReport> {
  const root = runtime.stateRoot;
  const prefix = options.prefix ?? containerIdPrefix;
  const report: CleanupReport = {
    root,
    listHung: false,
    hungProcessesKilled: [],
    containers: [],
    lockFilesRemoved: [],
    cgroupsRemoved: [],
    wiped: false,
    problems: [],
  };

  let containers = await listWithin(runtime, options.listTimeoutMs ?? 5000);
  if (containers === undefined) {
    report.listHung = true;
    report.hungProcessesKilled = await killLockHolders(root, options.live);
    containers = await listWithin(runtime, options.listTimeoutMs ?? 5000);
    if (containers === undefined) {
      report.problems.push(`list still does not answer after ending the lock holders in ${root}`);
      containers = [];
    }
  }

  for (const container of containers) {
    report.containers.push(await sweepContainer(runtime, container, prefix, options));
  }
  report.lockFilesRemoved = await removeLoneLockFiles(root, prefix);
  const known = new Set(((await listWithin(runtime, 2000)) ?? containers).map((c) => c.id));
  report.cgroupsRemoved = await removeLeftCgroups({
    cgroupRoot: options.cgroupRoot ?? '/sys/fs/cgroup',
    parent: options.cgroupParent ?? 'temporal-runsc',
    prefix,
    known,
    live: options.live,
    minAgeMs: options.cgroupMinAgeMs ?? 60_000,
  });

  if (options.wipe) {
    const running = await processesOfRoot(root);
    if (running.length > 0) {
      report.problems.push(
        `wipe refused: ${running.length} runtime process(es) of ${root} still run (pids ${running.map((p) => p.pid).join(', ')}); stop them first`,
      );
    } else {
      for (const entry of await readdir(root).catch(() => [] as string[])) {
        await rm(join(root, entry), { recursive: true, force: true });
      }
      report.wiped = true;
    }
  }
  return report;
}

async function listWithin(runtime: Runsc, timeoutMs: number): Promise<ContainerState[] | undefined> {
  try {
    return await runtime.withTimeout(timeoutMs).list();
  } catch (error) {
    if (error instanceof RuntimeTimeout) return undefined;
    throw error;
  }
}

async function sweepContainer(
  runtime: Runsc,
  container: ContainerState,
  prefix: string,
  options: CleanupOptions,
): Promise<CleanupReport['containers'][number]> {
  const { id, status } = container;
  if (options.live?.has(id)) return { id, status, action: 'kept-live' };
  const owner = container.bundle ? await ownerOfBundle(container.bundle) : undefined;
  if (!id.startsWith(prefix) && !owner) return { id, status, action: 'kept-foreign' };
  if (owner && owner.pid !== process.pid && (await ownerAlive(owner))) {
    return {
      id,
      status,
      action: 'kept-owned',
      detail: `owned by live process ${owner.pid} on ${owner.host}`,
    };
  }
  try {
    const abort = await runtime.abort(id, { graceMs: options.graceMs ?? 1000 });
    return abort.gone
      ? { id, status, action: 'aborted', detail: abort.steps.join(', ') || 'already gone' }
      : { id, status, action: 'failed', detail: `still listed after ${abort.steps.join(', ')}` };
  } catch (error) {
    return { id, status, action: 'failed', detail: (error as Error).message };
  }
}

/** Ends processes holding lock files of this root, except those of containers we run now. */
async function killLockHolders(root: string, live?: LiveContainers): Promise<HostProcess[]> {
  const killed: HostProcess[] = [];
  for (const holder of await processesHoldingFilesIn(root)) {
    const ids = holder.files.map((file) => lockFileId(file.slice(root.length + 1))).filter(Boolean);
    if (ids.some((id) => id && live?.has(id))) continue;
    try {
      process.kill(holder.pid, 'SIGKILL');
      killed.push({ pid: holder.pid, args: holder.args });
    } catch {
      // Gone already.
    }
  }
  // Management commands of this root stuck behind the lock (not sandboxes, gofers or runs).
  for (const proc of await processesOfRoot(root)) {
    const subcommand = proc.args.find((arg) => ['list', 'state', 'delete', 'kill', 'ps'].includes(arg));
    if (!subcommand || proc.args.includes('boot') || proc.args.includes('gofer')) continue;
    try {
      process.kill(proc.pid, 'SIGKILL');
      killed.push(proc);
    } catch {
      // Gone already.
    }
  }
  return killed;
}

/** `<id>_sandbox:<id>.lock` (runsc's layout) gives `<id>`. */
function lockFileId(name: string): string | undefined {
  return /^(.+)_sandbox:.+\.lock$/.exec(name)?.[1];
}

async function removeLoneLockFiles(root: string, prefix: string): Promise<string[]> {
  const entries = await readdir(root).catch(() => [] as string[]);
  const held = new Set((await processesHoldingFilesIn(root)).flatMap((p) => p.files));
  const removed: string[] = [];
  for (const name of entries) {
    const id = lockFileId(name);
    if (!id?.startsWith(prefix)) continue;
    const stateFile = name.replace(/\.lock$/, '.state');
    const path = join(root, name);
    if (entries.includes(stateFile) || held.has(path)) continue;
    await rm(path, { force: true });
    removed.push(path);
  }
  return removed;
}

/** Empty cgroups named after our containers that the runtime no longer knows. */
async function removeLeftCgroups(where: {
  cgroupRoot: string;
  parent: string;
  prefix: string;
  known: Set<string>;
  live?: LiveContainers;
  minAgeMs: number;
}): Promise<string[]> {
  const removed: string[] = [];
  const controllers = await readdir(where.cgroupRoot).catch(() => [] as string[]);
  const hierarchies = [where.cgroupRoot, ...controllers.map((c) => join(where.cgroupRoot, c))];
  for (const hierarchy of hierarchies) {
    const dir = join(hierarchy, where.parent);
    for (const id of await readdir(dir).catch(() => [] as string[])) {
      if (!id.startsWith(where.prefix) || where.known.has(id) || where.live?.has(id)) continue;
      const path = join(dir, id);
      const age = await stat(path).then(
        (s) => Date.now() - s.ctimeMs,
        () => -1,
      );
      if (age < where.minAgeMs) continue;
      try {
        await rmdir(path);
        removed.push(path);
      } catch {
        // Not empty (a process still in it) or not a cgroup: leave it.
      }
    }
  }
  return removed;
}
