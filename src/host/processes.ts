import { readdir, readFile, readlink } from 'node:fs/promises';

export interface HostProcess {
  pid: number;
  args: string[];
}

/** Every process on this host, with its argument vector (processes that vanish are skipped). */
export async function listProcesses(): Promise<HostProcess[]> {
  const entries = await readdir('/proc');
  const processes: HostProcess[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline) continue;
    processes.push({ pid: Number(entry), args: cmdline.split('\0').filter(Boolean) });
  }
  return processes;
}

/** One process's argument vector; undefined when it is gone (or is a kernel thread). */
export async function processArgs(pid: number): Promise<string[] | undefined> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline ? cmdline.split('\0').filter(Boolean) : undefined;
}

/**
 * True when the arguments name exactly this state root, as `--root=<dir>` or `--root <dir>`:
 * never a prefix (`<dir>-2`, `<dir>/nested`), so cleanup of one root cannot reach another's.
 */
export function argsNameRoot(args: readonly string[], root: string): boolean {
  return args.some((arg, i) => arg === `--root=${root}` || (arg === '--root' && args[i + 1] === root));
}

/**
 * Runtime processes of one state root: the `run`/`list`/... commands, and runsc's own sandbox
 * and gofer processes, which carry the same `--root` flag.
 */
export async function processesOfRoot(root: string): Promise<HostProcess[]> {
  const ours = await selfAndAncestors();
  return (await listProcesses()).filter((p) => !ours.has(p.pid) && argsNameRoot(p.args, root));
}

/**
 * This process and its ancestors: a wrapper that started us (`sudo`, `npx`, `tsx`) carries our
 * own arguments, `--root` included, and is neither a leftover nor ours to end.
 */
async function selfAndAncestors(): Promise<Set<number>> {
  const pids = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !pids.has(pid)) {
    pids.add(pid);
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // Field 4 (ppid) comes after the command name, which is in parentheses and may hold spaces.
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? 0);
  }
  return pids;
}

/** Processes that hold a file below `dir` open (for example a container's `.lock` file). */
export async function processesHoldingFilesIn(dir: string): Promise<(HostProcess & { files: string[] })[]> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const holders: (HostProcess & { files: string[] })[] = [];
  for (const proc of await listProcesses()) {
    if (proc.pid === process.pid) continue;
    const fds = await readdir(`/proc/${proc.pid}/fd`).catch(() => [] as string[]);
    const files: string[] = [];
    for (const fd of fds) {
      const target = await readlink(`/proc/${proc.pid}/fd/${fd}`).catch(() => '');
      if (target.startsWith(prefix)) files.push(target);
    }
    if (files.length > 0) holders.push({ ...proc, files });
  }
  return holders;
}

/** True while the process exists (signal 0 probes without touching it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
