/**
 * Temporal's floor for one step (scenarios/temporal-floor.ts): the library's one-step pipeline
 * (workflows/pipeline.ts) with the container taken out. Same round trips: the host is asked for
 * with a local activity on the shared queue, then one activity runs on that host's queue; its
 * body does nothing. Whatever a one-step pipeline costs beyond this is the library's own.
 *
 * Workflow code: deterministic, imports only @temporalio/workflow (the bench bundles this file
 * on its own, apart from the library's workflows).
 */
import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

/** Same name and answer as the library's shared activity, so histories read the same. */
export interface FloorSharedActivities {
  hostQueue(): Promise<{ host: string; hostQueue: string }>;
}

export interface FloorHostActivities {
  /** Returns at once: the stand-in for runContainer. */
  noop(): Promise<void>;
}

// The options below are the pipeline's own (defaults of a step without settings): the floor
// should differ from the library only in what the activity does.
const shared = proxyLocalActivities<FloorSharedActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 10, initialInterval: '1s' },
});

/** Resolves with the host that ran the no-op, so the bench can check the layout it meant. */
export async function temporalFloorStep(): Promise<string> {
  const target = await shared.hostQueue();
  const host = proxyActivities<FloorHostActivities>({
    taskQueue: target.hostQueue,
    startToCloseTimeout: '10m',
    heartbeatTimeout: '10s',
    scheduleToStartTimeout: '5m',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    summary: 'noop',
    retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2 },
  });
  await host.noop();
  return target.host;
}
