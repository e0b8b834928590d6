/**
 * Temporal's own floor for one step on this machine, so stepOverheadMs can be read as "Temporal
 * round trips any activity pays" plus "the library's share". The floor is the end-to-end time
 * (client start call -> result at the client, the clock of step-overhead) of floor-workflows.ts:
 * the library's one-step pipeline shape (local hostQueue activity, then one activity on the
 * host's queue) whose activity returns at once, served by two workers of its own laid out as
 * createSandboxWorker lays them out, on the bench's dev server.
 *
 * Beside it, the least one activity costs on this server at all (temporalBareStep: no host pick,
 * the no-op on the workflow's own queue, workflow and activity both dispatched eagerly) and a
 * workflow that does nothing: a step overhead below these is out of reach of any activity.
 *
 * Each round takes a floor run, a bare and an empty workflow, a one-step /bin/true pipeline and a
 * raw `runsc run`, in rotating
 * order, so the library's share is a per-round difference of neighbours:
 * (pipeline - raw) - floor. The pipeline and raw samples are this scenario's own (the overhead
 * scenario's rounds are not open to it); its stepOverheadMs is reported beside, for comparison.
 */
import { fileURLToPath } from 'node:url';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { workerTuning } from '../../src/worker/index.js';
import { type CpuTimes, cpuPer, withCpu } from '../cpu.js';
import type { FloorHostActivities, FloorSharedActivities, temporalFloorStep } from '../floor-workflows.js';
import { type BenchHarness, inProcessWorkerSettings } from '../harness.js';
import { onlyActivity, workflowTimeline } from '../history.js';
import type { BenchPlan } from '../options.js';
import { nowMs, runPipeline, sequentialPipeline } from '../pipelines.js';
import { say } from '../progress.js';
import { median, medianByKey, rotated, round, type Summary, summarize } from '../stats.js';

const floorWorkflowsPath = fileURLToPath(new URL('../floor-workflows.ts', import.meta.url));
const floorHost = 'bench-floor-host';

/** Where a floor run's time goes (history event times and the client clock); adds up to the whole. */
export interface FloorSplit {
  startRpc: number;
  /** Start -> noop scheduled: workflow task 1, the local hostQueue activity inside it. */
  firstWorkflowTask: number;
  /** noop scheduled -> started (host queue dispatch). */
  activityDispatch: number;
  /** noop started -> completed: an empty body plus the completion RPC. */
  activityRun: number;
  completionWorkflowTask: number;
  resultDelivery: number;
}

export const floorSplitLabels: Record<keyof FloorSplit, string> = {
  startRpc: 'client start call -> WorkflowExecutionStarted',
  firstWorkflowTask: 'workflow task 1 with the local hostQueue activity (start -> noop scheduled)',
  activityDispatch: 'noop dispatch (scheduled -> started)',
  activityRun: 'noop started -> completed (empty body, completion RPC)',
  completionWorkflowTask: 'last workflow task (noop done -> workflow completed)',
  resultDelivery: 'workflow completed -> result at the client',
};

export interface TemporalFloorResult {
  /** Median end-to-end time of the floor workflow. */
  temporalFloorMs: number;
  /** Median of per-round (one-step pipeline - raw run - floor): the library's own share. */
  libraryOverAboveFloorMs: number;
  /**
   * The least one activity costs here: temporalBareStep (its no-op on the workflow's own queue,
   * dispatched eagerly), started eagerly over the workers' own connection. Median.
   */
  bareTemporalFloorMs: number;
  /** A workflow that does nothing, started the same way: start, one workflow task, result. */
  emptyWorkflowMs: number;
  /** How many of the bare and empty runs the server started eagerly ("k of n"). */
  eagerStarts: string;
  floorMs: Summary;
  bareStepMs: Summary;
  emptyWorkflowRunMs: Summary;
  /** The one-step pipeline and the raw run of the same rounds, and their per-round difference. */
  endToEndMs: Summary;
  rawRunMs: Summary;
  stepOverheadMs: number;
  libraryShareMs: Summary;
  floorSplitMs: FloorSplit;
  /** Workflow tasks per floor run: compare the overhead scenario's workflowTasksPerRun. */
  workflowTasksPerFloorRun: number;
  /** CPU per run of each workflow: bench process (client + all workers), runsc, dev server. */
  cpuPerRunMs: { floor: CpuTimes; pipeline: CpuTimes };
  samples: {
    floorMs: number[];
    bareStepMs: number[];
    emptyWorkflowMs: number[];
    endToEndMs: number[];
    rawRunMs: number[];
    split: FloorSplit[];
  };
}

interface TimedFloor {
  handle: WorkflowHandle;
  /** Client clock just before the start call, and when the result arrived. */
  startedAt: number;
  endedAt: number;
}

export async function measureTemporalFloor(
  harness: BenchHarness,
  plan: BenchPlan,
): Promise<TemporalFloorResult> {
  const floor = await startFloorWorkers(harness);
  try {
    // A worker that dies would leave the workflows waiting forever: end the measurement with it.
    return await Promise.race([
      measure(harness, plan, floor),
      floor.running.then(() => Promise.reject(new Error('the floor workers stopped during the scenario'))),
    ]);
  } finally {
    await floor.stop();
  }
}

async function measure(
  harness: BenchHarness,
  plan: BenchPlan,
  floor: FloorWorkers,
): Promise<TemporalFloorResult> {
  const pipelineInput = sequentialPipeline('bench-floor-one-step', 1);
  const cpu = { floor: [] as CpuTimes[], pipeline: [] as CpuTimes[] };
  const timedFloor = () => runFloor(harness.client, floor.taskQueue);
  const onePipeline = () => runPipeline(harness.client, pipelineInput, harness.taskQueue);
  const bare = { bareStep: [] as number[], emptyWorkflow: [] as number[], eagerStarts: 0 };
  const timedBare = async (workflow: 'temporalBareStep' | 'temporalEmptyWorkflow') => {
    const startedAt = nowMs();
    const handle = await floor.eagerClient.workflow.start(workflow, {
      taskQueue: floor.taskQueue,
      workflowId: `bench-${workflow}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
      requestEagerStart: true,
    });
    await handle.result();
    if (handle.eagerlyStarted) bare.eagerStarts++;
    return nowMs() - startedAt;
  };
  // Warm-up: the floor workers' first workflow pays for their isolate and first polls.
  for (let i = 0; i < plan.overheadWarmups; i++) {
    await timedFloor();
    await timedBare('temporalBareStep');
    await onePipeline();
    await harness.raw.runsc.timedRun();
  }
  bare.eagerStarts = 0;

  const floorRuns: TimedFloor[] = [];
  const endToEnd: number[] = [];
  const raw: number[] = [];
  const kinds: (() => Promise<void>)[] = [
    async () => {
      bare.bareStep.push(await timedBare('temporalBareStep'));
      bare.emptyWorkflow.push(await timedBare('temporalEmptyWorkflow'));
    },
    async () => {
      const { value, cpu: spent } = await withCpu(harness.devServerPid, timedFloor);
      cpu.floor.push(spent);
      floorRuns.push(value);
    },
    async () => {
      const { value, cpu: spent } = await withCpu(harness.devServerPid, onePipeline);
      cpu.pipeline.push(spent);
      endToEnd.push(value.wallMs);
    },
    async () => {
      raw.push(await harness.raw.runsc.timedRun());
    },
  ];
  for (let round = 0; round < plan.overheadRounds; round++) {
    for (const kind of rotated(kinds, round)) await kind();
  }
  // Histories are read after the rounds, so no sample pays for (or follows) another's history read.
  const floorMs = floorRuns.map((run) => run.endedAt - run.startedAt);
  const splits: FloorSplit[] = [];
  let workflowTasks = 0;
  for (const run of floorRuns) {
    const { split, workflowTasksOfRun } = await floorSplit(run);
    splits.push(split);
    workflowTasks += workflowTasksOfRun;
  }

  const overheads = endToEnd.map((total, i) => total - (raw[i] as number));
  const shares = overheads.map((overhead, i) => overhead - (floorMs[i] as number));
  const result: TemporalFloorResult = {
    temporalFloorMs: round(median(floorMs)),
    libraryOverAboveFloorMs: round(median(shares)),
    bareTemporalFloorMs: round(median(bare.bareStep)),
    emptyWorkflowMs: round(median(bare.emptyWorkflow)),
    eagerStarts: `${bare.eagerStarts} of ${bare.bareStep.length + bare.emptyWorkflow.length}`,
    floorMs: summarize(floorMs),
    bareStepMs: summarize(bare.bareStep),
    emptyWorkflowRunMs: summarize(bare.emptyWorkflow),
    endToEndMs: summarize(endToEnd),
    rawRunMs: summarize(raw),
    stepOverheadMs: round(median(overheads)),
    libraryShareMs: summarize(shares),
    floorSplitMs: medianByKey(splits),
    workflowTasksPerFloorRun: round(workflowTasks / plan.overheadRounds, 2),
    cpuPerRunMs: {
      floor: cpuPer(cpu.floor, cpu.floor.length),
      pipeline: cpuPer(cpu.pipeline, cpu.pipeline.length),
    },
    samples: {
      floorMs: floorMs.map(Math.round),
      bareStepMs: bare.bareStep.map(Math.round),
      emptyWorkflowMs: bare.emptyWorkflow.map(Math.round),
      endToEndMs: endToEnd.map(Math.round),
      rawRunMs: raw.map(Math.round),
      split: splits.map((s) => medianByKey([s])),
    },
  };
  say(
    `temporal floor ${result.temporalFloorMs} ms (bare one-activity workflow ${result.bareTemporalFloorMs} ms, empty workflow ${result.emptyWorkflowMs} ms); in the same rounds step overhead ${result.stepOverheadMs} ms, of which the library's own ${result.libraryOverAboveFloorMs} ms (medians)`,
  );
  return result;
}

/** One floor workflow, timed as runPipeline times a pipeline. */
async function runFloor(client: Client, taskQueue: string): Promise<TimedFloor> {
  const startedAt = nowMs();
  const handle = await client.workflow.start<typeof temporalFloorStep>('temporalFloorStep', {
    taskQueue,
    workflowId: `bench-floor-${new Date().toISOString().replace(/[:.]/g, '-')}-${Math.random().toString(36).slice(2, 8)}`,
  });
  const host = await handle.result();
  const endedAt = nowMs();
  if (host !== floorHost) throw new Error(`floor workflow ran its activity on ${host}, not ${floorHost}`);
  return { handle, startedAt, endedAt };
}

/** Where a floor run's time went, from its history; checks it had the pipeline's shape. */
async function floorSplit(run: TimedFloor): Promise<{ split: FloorSplit; workflowTasksOfRun: number }> {
  const timeline = await workflowTimeline(run.handle);
  const step = onlyActivity(timeline, 'noop');
  if (timeline.localActivities !== 1 || step.started === undefined || step.completed === undefined) {
    throw new Error(`unexpected history for ${run.handle.workflowId}: not one local activity and one noop`);
  }
  const closed = timeline.closed ?? Number.NaN;
  return {
    workflowTasksOfRun: timeline.workflowTasks,
    split: {
      startRpc: timeline.started - run.startedAt,
      firstWorkflowTask: step.scheduled - timeline.started,
      activityDispatch: step.started - step.scheduled,
      activityRun: step.completed - step.started,
      completionWorkflowTask: closed - step.completed,
      resultDelivery: run.endedAt - closed,
    },
  };
}

export interface FloorWorkers {
  /** The shared queue (workflows, the local hostQueue activity, the bare step's no-op). */
  taskQueue: string;
  /** A client over the workers' own connection: it can start workflows eagerly. */
  eagerClient: Client;
  running: Promise<unknown>;
  stop: () => Promise<void>;
}

/**
 * The library's layout (src/worker/index.ts) with the container activities swapped for a no-op
 * (and, for the throughput floor, `rawRun`): one worker on a shared queue (workflow + the local
 * hostQueue activity), one on the host's own queue, in this process, with the same
 * latency-shaping options (workerTuning). Stopped when the scenario ends, or with the harness
 * on Ctrl-C.
 */
export async function startFloorWorkers(
  harness: BenchHarness,
  rawRun: () => Promise<void> = () => Promise.reject(new Error('this scenario runs no raw runs')),
): Promise<FloorWorkers> {
  const taskQueue = `${harness.taskQueue}-floor`;
  const hostQueue = `${taskQueue}@${floorHost}`;
  say('starting the floor workers (bundles bench/floor-workflows.ts)');
  const connection = await NativeConnection.connect({ address: harness.address });
  const noop = async () => undefined;
  const sharedActivities: FloorSharedActivities & Pick<FloorHostActivities, 'noop'> = {
    hostQueue: async () => ({ host: floorHost, hostQueue }),
    noop,
  };
  const hostActivities: FloorHostActivities = { noop, rawRun };
  let workers: Worker[] = [];
  try {
    workers = [
      await Worker.create({
        connection,
        taskQueue,
        workflowsPath: floorWorkflowsPath,
        activities: sharedActivities,
        shutdownGraceTime: '5s',
        ...workerTuning.shared,
      }),
      await Worker.create({
        connection,
        taskQueue: hostQueue,
        activities: hostActivities,
        maxConcurrentActivityTaskExecutions: inProcessWorkerSettings.maxConcurrentContainers,
        ...workerTuning.host,
        shutdownGraceTime: '1s',
      }),
    ];
  } catch (error) {
    await connection.close();
    throw error;
  }
  const running = Promise.all(workers.map((w) => w.run()));
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
    })();
    return stopping;
  };
  harness.defer('stop the floor workers', stop);
  return { taskQueue, eagerClient: new Client({ connection }), running, stop };
}
