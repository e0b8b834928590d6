import { proxyActivities } from '@temporalio/workflow';
import type { CleanupReport } from '../src/host/cleanup.js';
import type { HostActivities } from './activities.js';

export interface HostJanitorInput {
  /** The host queue whose worker sweeps its own runtime root. */
  hostQueue: string;
  /** Also empty the state directory (refused while a sandbox of that root runs). */
  wipe?: boolean;
}

/** Runs cleanupHost on one host; meant to run on a Temporal schedule, one per host queue. */
export async function hostJanitor(input: HostJanitorInput): Promise<CleanupReport> {
  const host = proxyActivities<HostActivities>({
    taskQueue: input.hostQueue,
    startToCloseTimeout: '2m',
    scheduleToStartTimeout: '5m',
    retry: { maximumAttempts: 3 },
    summary: 'cleanupHost',
  });
  return host.cleanupHost({ wipe: input.wipe ?? false });
}
