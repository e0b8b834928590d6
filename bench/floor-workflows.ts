/**
 * Temporal's floor for one step (scenarios/temporal-floor.ts): the library's one-step pipeline
 * (workflows/pipeline.ts) with the container taken out. Same round trips: the host is asked for
 * with a local activity on the shared queue, then one activity runs on that host's queue; its
 * body does nothing. Whatever a one-step pipeline costs beyond this is the library's own.
 * Beside it, the least any workflow with one activity can cost on the same server
 * (temporalBareStep), and the throughput floor: the library's parallel-group shape whose
 * activities spawn the runtime directly, with nothing of the library around it
 * (temporalRawGroup, scenarios/throughput.ts).
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
  /** One raw `runsc run` of a bundle written beforehand: runContainer without the library. */
  rawRun(): Promise<void>;
}

// The options below are the pipeline's own (defaults of a step without settings): the floor
// should differ from the library only in what the activity does.
const shared = proxyLocalActivities<FloorSharedActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 10, initialInterval: '1s' },
});

function onHost(hostQueue: string, summary: string) {
  return proxyActivities<FloorHostActivities>({
    taskQueue: hostQueue,
    startToCloseTimeout: '10m',
    heartbeatTimeout: '10s',
    scheduleToStartTimeout: '5m',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    summary,
    retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2 },
  });
}

/** Resolves with the host that ran the no-op, so the bench can check the layout it meant. */
export async function temporalFloorStep(): Promise<string> {
  const target = await shared.hostQueue();
  await onHost(target.hostQueue, 'noop').noop();
  return target.host;
}

/**
 * The cheapest one-activity workflow there is: no host pick, the no-op on the workflow's own
 * queue, so that the server may hand it to the worker with the workflow task that scheduled it
 * (eager activity dispatch), and the bench starts it eagerly too.
 */
export async function temporalBareStep(): Promise<void> {
  await proxyActivities<FloorHostActivities>({ startToCloseTimeout: '1m' }).noop();
}

/** A workflow that does nothing: what start, one workflow task and the result cost alone. */
export async function temporalEmptyWorkflow(): Promise<void> {}

/**
 * The throughput scenario's parallel group (one host pick, `steps` activities at once on that
 * host's queue), each activity a raw runtime run. Resolves with the host, like temporalFloorStep.
 */
export async function temporalRawGroup(steps: number): Promise<string> {
  const target = await shared.hostQueue();
  const host = onHost(target.hostQueue, 'raw run');
  await Promise.all(Array.from({ length: steps }, () => host.rawRun()));
  return target.host;
}
