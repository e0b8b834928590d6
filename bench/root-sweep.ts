/**
 * Empties one runtime state root of the bench with the library's own cleanup (cleanupHost):
 * aborts every container it finds (all of them are the bench's), ends what the runtime could not,
 * and wipes the root's runtime files (current runsc's mounted `null-netns` included). Used at the
 * end of a run (where finding anything is a bug to report) and at the start, on the roots of
 * earlier runs that were killed.
 */
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanupHost } from '../src/host/cleanup.js';
import { isAlive, processesOfRoot } from '../src/host/processes.js';
import { Runsc } from '../src/runtime/index.js';
import { runtimeUnderTest } from '../test/support/runsc-builds.js';

export interface Leftovers {
  containers: string[];
  processes: string[];
}

export const benchRootsBase = '/run/temporal-runsc-bench';
export const benchWorkBase = '/tmp/temporal-runsc-bench';

export async function sweepRoot(runtime: Runsc, leftovers: Leftovers): Promise<void> {
  const root = runtime.stateRoot;
  const sweep = async (wipe: boolean) => {
    try {
      // Every container of a bench root is the bench's; cgroups are left to their owners' cleanup.
      return await cleanupHost(runtime, {
        prefix: '',
        graceMs: 500,
        wipe,
        cgroupMinAgeMs: Number.POSITIVE_INFINITY,
      });
    } catch (error) {
      leftovers.containers.push(`${root}: cleanup refused or failed: ${(error as Error).message}`);
      return undefined;
    }
  };
  const report = await sweep(false);
  for (const container of report?.containers ?? []) {
    leftovers.containers.push(`${root}: ${container.id} (${container.status}): ${container.action}`);
  }
  // What the runtime could not end (a sandbox whose record is gone): the last resort.
  const left = await processesOfRoot(root);
  for (const proc of left) {
    leftovers.processes.push(`${proc.pid}: ${proc.args.join(' ').slice(0, 200)}`);
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // Gone in the meantime.
    }
  }
  const deadline = Date.now() + 3000;
  while (left.some((p) => isAlive(p.pid)) && Date.now() < deadline) await sleep(50);
  const wiped = await sweep(true);
  for (const problem of wiped?.problems ?? []) leftovers.containers.push(`${root}: ${problem}`);
}

/** The runtime client for a root folder of the bench (`runc` roots are named so). */
export function runtimeForRoot(root: string): Runsc {
  return root.endsWith('/runc')
    ? new Runsc({ command: 'runc', root })
    : new Runsc({ command: runtimeUnderTest(), root, network: 'none' });
}

/** Sweeps, wipes and removes each root under `dir`, then `dir` itself. */
export async function removeRoots(dir: string, leftovers: Leftovers): Promise<void> {
  for (const root of await readdir(dir).catch(() => [] as string[])) {
    await sweepRoot(runtimeForRoot(join(dir, root)), leftovers);
    await rmdir(join(dir, root)).catch((error: Error) => {
      leftovers.containers.push(`${join(dir, root)} not removed: ${error.message}`);
    });
  }
  await rmdir(dir).catch(() => undefined);
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
      // Roots are never removed wholesale: only through the cleanup, which knows their files.
      if (base === benchRootsBase) await removeRoots(dir, leftovers);
      else await rm(dir, { recursive: true, force: true });
      runs.push(dir);
    }
  }
  return { runs, leftovers };
}
