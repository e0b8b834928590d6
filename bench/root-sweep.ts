/**
 * Empties one runtime state root of the bench: aborts every container `list` shows and ends
 * every runtime process that names the root. Used at the end of a run (where finding anything
 * is a bug to report) and at the start, on the roots of earlier runs that were killed.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive, processesOfRoot } from '../src/host/processes.js';
import { Runsc } from '../src/runtime/index.js';

export interface Leftovers {
  containers: string[];
  processes: string[];
}

export const benchRootsBase = '/run/temporal-runsc-bench';
export const benchWorkBase = '/tmp/temporal-runsc-bench';

export async function sweepRoot(runtime: Runsc, leftovers: Leftovers): Promise<void> {
  const root = runtime.stateRoot;
  for (const container of await runtime.list().catch(() => [])) {
    leftovers.containers.push(`${root}: ${container.id} (${container.status})`);
    await runtime.abort(container.id, { graceMs: 500 }).catch(() => undefined);
  }
  for (const proc of await processesOfRoot(root)) {
    leftovers.processes.push(`${proc.pid}: ${proc.args.join(' ').slice(0, 200)}`);
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // Gone in the meantime.
    }
  }
}

/** The runtime client for a root folder of the bench (`runc` roots are named so). */
export function runtimeForRoot(root: string): Runsc {
  return root.endsWith('/runc')
    ? new Runsc({ command: 'runc', root })
    : new Runsc({ root, platform: 'ptrace' });
}

/**
 * Roots and work folders of earlier bench runs whose process is dead (SIGKILLed, machine
 * reboot): swept and removed, so one killed run does not haunt the next. Returns what was found.
 */
export async function sweepDeadRuns(): Promise<{ runs: string[]; leftovers: Leftovers }> {
  const leftovers: Leftovers = { containers: [], processes: [] };
  const runs: string[] = [];
  for (const base of [benchRootsBase, benchWorkBase]) {
    for (const name of await readdir(base).catch(() => [] as string[])) {
      if (!/^\d+$/.test(name) || isAlive(Number(name))) continue;
      const dir = join(base, name);
      if (base === benchRootsBase) {
        for (const root of await readdir(dir).catch(() => [] as string[])) {
          await sweepRoot(runtimeForRoot(join(dir, root)), leftovers);
        }
      }
      await rm(dir, { recursive: true, force: true });
      runs.push(dir);
    }
  }
  return { runs, leftovers };
}
