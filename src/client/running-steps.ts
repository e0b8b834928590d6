import type { WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { RunHeartbeat } from '../../activities/types.js';
import type { PipelineStatusSnapshot } from '../../workflows/types.js';

/** A step's running container as its activity's last heartbeat tells it. */
export interface RunningContainer {
  step: string;
  containerId: string;
  pid: number | null;
  host: string;
  attempt: number;
  /** The step's latest line of output, as of its last heartbeat (masked). */
  lastLine?: string;
}

/**
 * The running containers of a pipeline, read from its pending activities' last heartbeats
 * (DescribeWorkflowExecution). The workflow itself never hears of a container until the step
 * ends: telling it cost a signal, so a workflow task, per step.
 */
export async function runningContainers(handle: WorkflowHandle): Promise<RunningContainer[]> {
  const description = await handle.describe();
  const running: RunningContainer[] = [];
  for (const pending of description.raw.pendingActivities ?? []) {
    const payloads = pending.heartbeatDetails?.payloads;
    if (!payloads?.length) continue;
    const beat = (await decodeFirst(handle, payloads as Payload[]).catch(() => undefined)) as
      | Partial<RunHeartbeat>
      | undefined;
    if (!beat?.step || !beat.containerId) continue;
    running.push({
      step: beat.step,
      containerId: beat.containerId,
      pid: beat.pid ?? null,
      host: beat.host ?? '',
      attempt: pending.attempt ?? 1,
      ...(typeof beat.lastLine === 'string' ? { lastLine: beat.lastLine } : {}),
    });
  }
  return running;
}

/** The snapshot with each running step's container, pid, host and attempt filled in. */
export function withRunningContainers(
  snapshot: PipelineStatusSnapshot,
  running: readonly RunningContainer[],
): PipelineStatusSnapshot {
  const byStep = new Map(running.map((container) => [container.step, container]));
  return {
    ...snapshot,
    steps: snapshot.steps.map((step) => {
      const container = byStep.get(step.name);
      if (step.status !== 'running' || !container) return step;
      return {
        ...step,
        containerId: container.containerId,
        pid: container.pid,
        host: container.host,
        attempts: Math.max(step.attempts, container.attempt),
        ...(container.lastLine !== undefined ? { lastLine: container.lastLine } : {}),
      };
    }),
  };
}

/** Heartbeat details through the client's own data converter (codecs, then the converter). */
export async function decodeFirst(handle: WorkflowHandle, payloads: Payload[]): Promise<unknown> {
  const { payloadConverter, payloadCodecs } = handle.client.options.loadedDataConverter;
  let decoded = payloads;
  for (const codec of [...payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  const first = decoded[0];
  return first ? payloadConverter.fromPayload(first) : undefined;
}
