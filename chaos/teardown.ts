/**
 * The safety net after a scenario's verdict: whatever the scenario left (it has been reported
 * by the audit already), end it with the library's cleanup and remove the root, so that one failing
 * scenario never pollutes the next or the machine.
 */
import { readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanupHost } from '../src/host/cleanup.js';
import { isAlive, processesOfRoot } from '../src/host/processes.js';
import { Runsc } from '../src/runtime/index.js';
import { runtimeUnderTest } from '../test/support/runsc-builds.js';
import { cgroupsNamedAfter } from './audit.js';

/** Sweeps one root (containers, lock holders, processes, cgroups of `containerPrefix`) and removes it. */
export async function sweepAndRemoveRoot(root: string, containerPrefix: string): Promise<string[]> {
  const notes: string[] = [];
  const runtime = new Runsc({ root, command: runtimeUnderTest(), network: 'none', timeoutMs: 5000 });
  try {
    const report = await cleanupHost(runtime, { listTimeoutMs: 3000, graceMs: 500 });
    const aborted = report.containers.filter((c) => c.action !== 'kept-foreign');
    if (aborted.length > 0) notes.push(`teardown aborted ${aborted.map((c) => c.id).join(', ')} in ${root}`);
    notes.push(...report.problems);
  } catch (error) {
    notes.push(`teardown cleanup of ${root} failed: ${(error as Error).message}`);
  }
  // What the runtime could not end (a sandbox whose record is gone): the last resort, only for
  // processes that name exactly this root.
  for (let round = 0; round < 3; round++) {
    const left = await processesOfRoot(root);
    if (left.length === 0) break;
    for (const proc of left) {
      try {
        process.kill(proc.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    notes.push(`teardown killed ${left.map((p) => p.pid).join(', ')} of ${root}`);
    const deadline = Date.now() + 3000;
    while (left.some((p) => isAlive(p.pid)) && Date.now() < deadline) await sleep(50);
  }
  // Never `rm -rf` a root: current runsc leaves a mounted `null-netns` in it; the cleanup's wipe
  // unmounts it and removes only runtime files, and then the folder is empty.
  try {
    const wipe = await cleanupHost(runtime, { listTimeoutMs: 3000, graceMs: 500, wipe: true });
    notes.push(...wipe.problems);
    await rmdir(root).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') notes.push(`teardown could not remove ${root}: ${error.message}`);
    });
  } catch (error) {
    notes.push(`teardown wipe of ${root} failed: ${(error as Error).message}`);
  }
  // Deepest first: a container's cgroup sits inside `temporal-runsc/`, never the other way.
  for (const cgroup of (await cgroupsNamedAfter(containerPrefix)).sort((a, b) => b.length - a.length)) {
    await rmdir(cgroup).catch(() => undefined);
  }
  return notes;
}

/**
 * Removes the folder that holds a run's scenario roots. Each scenario's teardown removed its own
 * roots already; one still there (a teardown that failed) is wiped through the cleanup, never
 * removed wholesale. Returns what it could not remove.
 */
export async function removeRootBase(rootBase: string): Promise<string[]> {
  const notes: string[] = [];
  for (const name of await readdir(rootBase).catch(() => [] as string[])) {
    const root = join(rootBase, name);
    try {
      const wipe = await cleanupHost(new Runsc({ command: runtimeUnderTest(), root }), { wipe: true });
      notes.push(...wipe.problems);
      await rmdir(root);
    } catch (error) {
      notes.push(`could not remove ${root}: ${(error as Error).message}`);
    }
  }
  await rmdir(rootBase).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') notes.push(`could not remove ${rootBase}: ${error.message}`);
  });
  return notes;
}
