/**
 * The safety net after a scenario's verdict: whatever the scenario left (it has been reported
 * by the audit already), end it with the real runtime and remove the root, so that one failing
 * scenario never pollutes the next or the machine.
 */
import { rm, rmdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanupHost } from '../src/host/cleanup.js';
import { isAlive, processesHoldingFilesIn, processesOfRoot } from '../src/host/processes.js';
import { Runsc } from '../src/runtime/index.js';
import { cgroupsNamedAfter } from './audit.js';

/** Sweeps one root (containers, lock holders, processes, cgroups of `containerPrefix`) and removes it. */
export async function sweepAndRemoveRoot(root: string, containerPrefix: string): Promise<string[]> {
  const notes: string[] = [];
  const runtime = new Runsc({ root, platform: 'ptrace', network: 'none', timeoutMs: 5000 });
  try {
    const report = await cleanupHost(runtime, { listTimeoutMs: 3000, graceMs: 500 });
    const aborted = report.containers.filter((c) => c.action !== 'kept-foreign');
    if (aborted.length > 0) notes.push(`teardown aborted ${aborted.map((c) => c.id).join(', ')} in ${root}`);
    notes.push(...report.problems);
  } catch (error) {
    notes.push(`teardown cleanup of ${root} failed: ${(error as Error).message}`);
  }
  for (let round = 0; round < 3; round++) {
    const left = [...(await processesOfRoot(root)), ...(await processesHoldingFilesIn(root))];
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
  await rm(root, { recursive: true, force: true });
  // Deepest first: a container's cgroup sits inside `temporal-runsc/`, never the other way.
  for (const cgroup of (await cgroupsNamedAfter(containerPrefix)).sort((a, b) => b.length - a.length)) {
    await rmdir(cgroup).catch(() => undefined);
  }
  return notes;
}
