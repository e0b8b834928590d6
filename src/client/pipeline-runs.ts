/**
 * A pipeline too long for one workflow run continues as new, and each run's input carries the
 * records of the run before it (workflows/pipeline.ts): the last run's result holds only its
 * own. This puts the whole list of step records back together, for pipelineResult, from the
 * first event of each run (one small history page per run, read once when the pipeline ends).
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { emptyReport } from '../../workflows/pipeline-records.js';
import type {
  PipelineInput,
  PipelineRunState,
  RecordsLeftOut,
  StepReport,
  StepStatus,
} from '../../workflows/types.js';

interface RunStart {
  input: PipelineInput;
  state?: PipelineRunState;
  previousRunId?: string;
}

/** The input a run started with, and the run it continues (none for the first). */
async function runStart(handle: WorkflowHandle, runId: string | undefined): Promise<RunStart> {
  const { client } = handle;
  const response = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId: handle.workflowId, ...(runId ? { runId } : {}) },
    maximumPageSize: 1,
  });
  const started = response.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (!started) throw new Error(`${handle.workflowId}: the first event of run ${runId} is not its start`);
  const [input, state] = await decode(handle, (started.input?.payloads ?? []) as Payload[]);
  return {
    input: input as PipelineInput,
    ...(state ? { state: state as PipelineRunState } : {}),
    ...(started.continuedExecutionRunId ? { previousRunId: started.continuedExecutionRunId } : {}),
  };
}

async function decode(handle: WorkflowHandle, payloads: Payload[]): Promise<unknown[]> {
  const { payloadConverter, payloadCodecs } = handle.client.options.loadedDataConverter;
  let decoded = payloads;
  for (const codec of [...payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return decoded.map((payload) => payloadConverter.fromPayload(payload));
}

/**
 * Every step's record, in pipeline order: the latest run's `steps` joined with the records its
 * earlier runs handed on, and the steps it did not list (skipped, or still pending). Records
 * that are whole already (no `earlier`, nothing `unlisted`) come back as they are.
 */
export async function wholeRecords<T extends RecordsLeftOut & { steps: StepReport[]; status: string }>(
  handle: WorkflowHandle,
  part: T,
): Promise<Omit<T, 'earlier' | 'unlisted'>> {
  const { earlier, unlisted, ...rest } = part;
  if (!earlier && !unlisted) return rest;
  // Backwards from the latest run (a handle may name the first): each start names the one before.
  const latest = handle.client.getHandle(handle.workflowId);
  const byName = new Map<string, StepReport>();
  let start = await runStart(latest, (await latest.describe()).runId);
  const input = start.input;
  const handedOn: StepReport[][] = [];
  for (;;) {
    if (start.state?.records) handedOn.unshift(start.state.records);
    if (!start.previousRunId) break;
    start = await runStart(latest, start.previousRunId);
  }
  for (const record of [...handedOn.flat(), ...part.steps]) byName.set(record.name, record);
  const waiting: StepStatus = part.status === 'running' ? 'pending' : 'skipped';
  const steps = [
    ...input.steps.map((step) => byName.get(step.name) ?? emptyReport(step.name, false, waiting)),
    ...(input.finally ?? []).map((step) => byName.get(step.name) ?? emptyReport(step.name, true)),
  ];
  return { ...rest, steps };
}
