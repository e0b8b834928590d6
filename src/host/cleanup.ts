import { readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { publish } from '../metrics/events.js';
import { containerIdPrefix } from '../runtime/container-id.js';
import { RuntimeError, RuntimeNotFound, RuntimeTimeout } from '../runtime/errors.js';
import type { Runsc } from '../runtime/runsc.js';
import type { ContainerState } from '../runtime/types.js';
import type { LiveContainers } from './live-containers.js';
import { ownerAlive, ownerOfBundle } from './owner.js';
import {
  argsNameRoot,
  type HostProcess,
  isAlive,
  processArgs,
  processesHoldingFilesIn,
  processesOfRoot,
} from './processes.js';
import { checkStateRoot, type RootEntry, removeNullNetns, runscEntryOf } from './state-root.js';

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
   * Also empty the whole state directory, after the sweep: every runtime entry in it, current
   * runsc's mounted `null-netns` included (unmounted first); the folder itself stays. Refused
   * while any runtime process of this root (a sandbox, a gofer, a `run`) is still alive.
   */
  wipe?: boolean;
}

/**
 * `removed-record`: a stale record whose recorded sandbox/gofer pid now belongs to another
 * process; its files were removed by us, because runsc's `delete` would SIGKILL that pid.
 */
export type ContainerAction =
  | 'aborted'
  | 'removed-record'
  | 'kept-live'
  | 'kept-owned'
  | 'kept-foreign'
  | 'failed';

export interface CleanupReport {
  root: string;
  /** `list` did not answer within its deadline at first. */
  listHung: boolean;
  /** Processes that held this root's lock files (or hung on them) and were ended. */
  hungProcessesKilled: HostProcess[];
  containers: { id: string; status: string; action: ContainerAction; detail?: string }[];
  lockFilesRemoved: string[];
  /** Control sockets (`runsc-<id>.sock`) of containers that are gone. */
  socketsRemoved: string[];
  cgroupsRemoved: string[];
  wiped: boolean;
  problems: string[];
}

/**
 * Finds and clears this host's stuck state for one runtime root, the way an operator would by
 * hand, but with deadlines and without touching what is not ours: containers of this library
 * (id prefix or owner annotation) that no live attempt owns, containers left `stopped`, lone
 * lock files and sockets, cgroups left under a container's id, and runtime processes of this
 * root hung on a lock. The root is checked first (checkStateRoot): one that is not a runtime
 * state directory (`/`, `.`, a home folder, a folder with other files) throws `UnsafeStateRoot`
 * before anything is touched.
 */
export async function cleanupHost(runtime: Runsc, options: CleanupOptions = {}): Promise<CleanupReport> {
  const root = runtime.stateRoot;
  const prefix = options.prefix ?? containerIdPrefix;
  await checkStateRoot(root, runtime.flavor);
  const report: CleanupReport = {
    root,
    listHung: false,
    hungProcessesKilled: [],
    containers: [],
    lockFilesRemoved: [],
    socketsRemoved: [],
    cgroupsRemoved: [],
    wiped: false,
    problems: [],
  };

  let containers = await listWithin(runtime, options.listTimeoutMs ?? 5000).catch((error: unknown) => {
    // A runtime that answers with a failure (a crash, a record it cannot read) is reported;
    // the files of this root are still swept, and a wipe still needs no process of it alive.
    if (!(error instanceof RuntimeError) || error instanceof RuntimeNotFound) throw error;
    report.problems.push(`list failed in ${root}: ${error.message}`);
    return [] as ContainerState[];
  });
  if (containers === undefined) {
    report.listHung = true;
    report.hungProcessesKilled = await killLockHolders(root, options.live, report.problems);
    containers = await listWithin(runtime, options.listTimeoutMs ?? 5000);
    if (containers === undefined) {
      report.problems.push(`list still does not answer after ending the lock holders in ${root}`);
      containers = [];
    }
  }

  for (const container of containers) {
    report.containers.push(await sweepContainer(runtime, container, prefix, options));
  }
  const lone = await removeLoneFiles(root, prefix, options.live);
  report.lockFilesRemoved = lone.locks;
  report.socketsRemoved = lone.sockets;
  const known = new Set(
    ((await listWithin(runtime, 2000).catch(() => undefined)) ?? containers).map((c) => c.id),
  );
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
      try {
        await wipeRoot(root, runtime.flavor);
        report.wiped = true;
      } catch (error) {
        report.problems.push(`wipe of ${root} stopped: ${(error as Error).message}`);
      }
    }
  }
  publish('cleanup', { findings: cleanupFindings(report) });
  return report;
}

/** What a sweep found, by kind, for the metrics (temporal_runsc_cleanup_findings_total). */
function cleanupFindings(report: CleanupReport): Record<string, number> {
  const findings: Record<string, number> = {
    hung_process: report.hungProcessesKilled.length,
    lock_file: report.lockFilesRemoved.length,
    socket: report.socketsRemoved.length,
    cgroup: report.cgroupsRemoved.length,
    problem: report.problems.length,
  };
  for (const container of report.containers) {
    if (container.action.startsWith('kept')) continue;
    const kind = `container_${container.action.replace(/-/g, '_')}`;
    findings[kind] = (findings[kind] ?? 0) + 1;
  }
  return findings;
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
  if (runtime.flavor === 'runsc') {
    const reused = await reusedRecordedPids(runtime.stateRoot, id);
    if (reused.length > 0) return removeStaleRecord(runtime.stateRoot, container, reused);
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

/**
 * Ends the runtime processes of this root that hold its lock files or are management commands
 * stuck behind them, except those of containers we run now. Only processes whose arguments name
 * exactly this root (argsNameRoot) are candidates: any other holder of a lock file (not ours to
 * end) is reported as a problem instead.
 */
async function killLockHolders(
  root: string,
  live: LiveContainers | undefined,
  problems: string[],
): Promise<HostProcess[]> {
  const killed: HostProcess[] = [];
  const kill = async (proc: HostProcess) => {
    // Read again just before the signal: the scan is a moment old, and a pid can be reused.
    const now = await processArgs(proc.pid);
    if (!now || !argsNameRoot(now, root)) return;
    try {
      process.kill(proc.pid, 'SIGKILL');
      killed.push({ pid: proc.pid, args: now });
    } catch {
      // Gone already.
    }
  };
  for (const holder of await processesHoldingFilesIn(root)) {
    const ids = holder.files.map((file) => lockFileId(file.slice(root.length + 1))).filter(Boolean);
    if (ids.length === 0 || ids.some((id) => id && live?.has(id))) continue;
    if (!argsNameRoot(holder.args, root)) {
      problems.push(
        `process ${holder.pid} (${holder.args.join(' ').slice(0, 120)}) holds ${holder.files.join(', ')} but is not a runtime process of ${root}: not ended`,
      );
      continue;
    }
    await kill(holder);
  }
  // Management commands of this root stuck behind the lock (not sandboxes, gofers or runs).
  for (const proc of await processesOfRoot(root)) {
    if (killed.some((k) => k.pid === proc.pid)) continue;
    const subcommand = proc.args.find((arg) => ['list', 'state', 'delete', 'kill', 'ps'].includes(arg));
    if (!subcommand || proc.args.includes('boot') || proc.args.includes('gofer')) continue;
    await kill(proc);
  }
  return killed;
}

/** `<id>_sandbox:<id>.lock` (runsc's layout) gives `<id>`. */
function lockFileId(name: string): string | undefined {
  const entry = runscEntryOf(name);
  return entry?.kind === 'lock' ? entry.id : undefined;
}

/**
 * Lock files and control sockets of our containers whose state file is gone (what a runtime that
 * died half-way leaves), unless a process holds them or the container is live.
 */
async function removeLoneFiles(
  root: string,
  prefix: string,
  live?: LiveContainers,
): Promise<{ locks: string[]; sockets: string[] }> {
  const entries = (await readdir(root).catch(() => [] as string[])).flatMap(
    (name) => runscEntryOf(name) ?? [],
  );
  const withState = new Set(entries.filter((e) => e.kind === 'state').map((e) => e.id));
  const held = new Set((await processesHoldingFilesIn(root)).flatMap((p) => p.files));
  const removed = { locks: [] as string[], sockets: [] as string[] };
  for (const entry of entries) {
    if (entry.kind !== 'lock' && entry.kind !== 'socket') continue;
    if (!entry.id?.startsWith(prefix) || withState.has(entry.id) || live?.has(entry.id)) continue;
    const path = join(root, entry.name);
    if (held.has(path)) continue;
    // A socket of a sandbox that still runs is in use even when no file of ours says so.
    if (
      entry.kind === 'socket' &&
      (await processesOfRoot(root)).some((p) => p.args.includes(entry.id ?? ''))
    ) {
      continue;
    }
    await rm(path, { force: true });
    (entry.kind === 'lock' ? removed.locks : removed.sockets).push(path);
  }
  return removed;
}

/** The pids a runsc state file records for its sandbox and gofer, and its bundle. */
async function recordedPids(
  root: string,
  id: string,
): Promise<{ pids: { what: string; pid: number }[]; bundle?: string }> {
  const text = await readFile(join(root, `${id}_sandbox:${id}.state`), 'utf8').catch(() => '');
  if (!text) return { pids: [] };
  try {
    const record = JSON.parse(text) as {
      sandbox?: { pid?: unknown };
      goferPid?: unknown;
      bundleDir?: unknown;
    };
    const pids = [
      { what: 'sandbox', pid: record.sandbox?.pid },
      { what: 'gofer', pid: record.goferPid },
    ].flatMap((p) =>
      typeof p.pid === 'number' && Number.isInteger(p.pid) && p.pid > 0
        ? [p as { what: string; pid: number }]
        : [],
    );
    return { pids, ...(typeof record.bundleDir === 'string' && { bundle: record.bundleDir }) };
  } catch {
    return { pids: [] };
  }
}

/** The value of a process's `--bundle` (runsc writes `--bundle X` for the gofer, `--bundle=X` for the sandbox). */
function bundleArg(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const match = /^--?bundle(=(.*))?$/.exec(arg);
    if (match) return match[1] !== undefined ? match[2] : args[i + 1];
  }
  return undefined;
}

/**
 * Recorded pids that are alive but no longer this sandbox's: the pid was reused by another
 * process after the sandbox died, maybe by another container's sandbox of this same root.
 * runsc's `delete` SIGKILLs recorded pids unchecked, so such a record must not reach it. A pid
 * is this record's only while its process names exactly this root and this container: both
 * builds end the sandbox's arguments (`runsc-sandbox ... boot ... <id>`) with the id; the
 * 2022 build's gofer names no id, only `--bundle <the record's bundle>` (the current one names
 * both). Any other runtime process of the root counts while it names the id (`runsc run <id>`).
 */
async function reusedRecordedPids(
  root: string,
  id: string,
): Promise<{ what: string; pid: number; args: string[] }[]> {
  const reused: { what: string; pid: number; args: string[] }[] = [];
  const { pids, bundle } = await recordedPids(root, id);
  for (const { what, pid } of pids) {
    if (!isAlive(pid)) continue;
    const args = await processArgs(pid);
    if (args === undefined) continue; // gone meanwhile
    const namesId = args.includes(id);
    const program = args[0] ?? '';
    const ours = /runsc-gofer$/.test(program)
      ? namesId || (bundle !== undefined && bundleArg(args) === bundle)
      : namesId;
    if (!(ours && argsNameRoot(args, root))) reused.push({ what, pid, args });
  }
  return reused;
}

/**
 * Removes a stale runsc record by hand (its state, lock and socket files), once no runtime
 * process of this root names the id and none holds its files: the runtime itself would kill
 * the pids that now belong to someone else.
 */
async function removeStaleRecord(
  root: string,
  container: ContainerState,
  reused: { what: string; pid: number; args: string[] }[],
): Promise<CleanupReport['containers'][number]> {
  const { id, status } = container;
  const why = reused
    .map((p) => `recorded ${p.what} pid ${p.pid} now belongs to "${p.args.join(' ').slice(0, 80)}"`)
    .join('; ');
  const files = [`${id}_sandbox:${id}.state`, `${id}_sandbox:${id}.lock`, `runsc-${id}.sock`].map((name) =>
    join(root, name),
  );
  const users = (await processesOfRoot(root)).filter((p) => p.args.includes(id));
  const holders = (await processesHoldingFilesIn(root)).filter((p) => p.files.some((f) => files.includes(f)));
  if (users.length > 0 || holders.length > 0) {
    const pids = [...users, ...holders].map((p) => p.pid).join(', ');
    return {
      id,
      status,
      action: 'failed',
      detail: `${why}; left alone: runtime process(es) ${pids} still use it`,
    };
  }
  for (const file of files) await rm(file, { force: true });
  return {
    id,
    status,
    action: 'removed-record',
    detail: `${why}: removed its state files without runsc delete, which would SIGKILL that pid`,
  };
}

/**
 * Empties a root of its runtime entries. The root is checked again first: a file that is not
 * runtime state (appeared since the sweep) stops the wipe with nothing removed.
 */
async function wipeRoot(root: string, flavor: Runsc['flavor']): Promise<void> {
  const entries: RootEntry[] = await checkStateRoot(root, flavor);
  for (const entry of entries) {
    const path = join(root, entry.name);
    if (entry.kind === 'null-netns') await removeNullNetns(root);
    else if (entry.kind === 'container-dir') await rm(path, { recursive: true, force: true });
    else await rm(path, { force: true });
  }
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
