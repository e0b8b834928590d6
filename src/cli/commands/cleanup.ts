import { cleanupHost } from '../../host/cleanup.js';
import { Runsc } from '../../runtime/runsc.js';

export interface CleanupFlags {
  root: string;
  runtime: string;
  wipe?: boolean;
  json?: boolean;
}

/** `cleanup`: this host's stuck state, swept without Temporal (the janitor does it with). */
export async function cleanupCommand(flags: CleanupFlags): Promise<number> {
  const runtime = new Runsc({ command: flags.runtime, root: flags.root });
  const report = await cleanupHost(runtime, { wipe: flags.wipe });
  if (flags.json) {
    console.log(JSON.stringify(report));
  } else {
    console.log(`root ${report.root}${report.listHung ? ' (list was hung)' : ''}`);
    for (const p of report.hungProcessesKilled)
      console.log(`  ended hung process ${p.pid}: ${p.args.join(' ')}`);
    for (const c of report.containers)
      console.log(`  ${c.id} (${c.status}): ${c.action}${c.detail ? ` — ${c.detail}` : ''}`);
    for (const f of report.lockFilesRemoved) console.log(`  removed lone lock file ${f}`);
    for (const g of report.cgroupsRemoved) console.log(`  removed cgroup ${g}`);
    if (report.wiped) console.log('  wiped the state directory');
    for (const p of report.problems) console.log(`  problem: ${p}`);
    if (
      !report.containers.length &&
      !report.lockFilesRemoved.length &&
      !report.cgroupsRemoved.length &&
      !report.hungProcessesKilled.length
    ) {
      console.log('  nothing to clean');
    }
  }
  return report.problems.length > 0 ? 1 : 0;
}
