import type { Client } from '@temporalio/client';
import type { PipelineInput, PipelineResult, PipelineStatusSnapshot } from '../../../workflows/types.js';
import {
  cancelPipeline,
  followPipeline,
  pipelineResult,
  pipelineStatus,
  startPipeline,
} from '../../client/index.js';
import { type ConnectionFlags, connectClient } from '../connection.js';
import { statusLines, statusTable } from '../render.js';

export interface RunFlags extends ConnectionFlags {
  workflowId?: string;
  taskQueue: string;
  detach?: boolean;
  json?: boolean;
}

/** `run <file>`: validate, start, follow, print; exit status 0 only when the pipeline completed. */
export async function runCommand(file: string, flags: RunFlags): Promise<number> {
  // Loaded here, not at the top: `status` and `cancel` need no pipeline parser (zod, yaml).
  const { parsePipelineFile } = await import('../../pipeline/index.js');
  const input = await parsePipelineFile(file);
  const { client, close } = await connectClient(flags);
  try {
    const result = await runPipeline(client, input, flags);
    return result === undefined || result.status === 'completed' ? 0 : 1;
  } finally {
    await close();
  }
}

/** Starts and (unless detached) follows a pipeline, printing progress to stderr and the end to stdout. */
export async function runPipeline(
  client: Client,
  input: PipelineInput,
  flags: Pick<RunFlags, 'workflowId' | 'taskQueue' | 'detach' | 'json'>,
): Promise<PipelineResult | undefined> {
  const handle = await startPipeline(client, input, {
    workflowId: flags.workflowId,
    taskQueue: flags.taskQueue,
  });
  if (flags.detach) {
    console.log(flags.json ? JSON.stringify({ workflowId: handle.workflowId }) : handle.workflowId);
    return undefined;
  }
  console.error(`started ${handle.workflowId}`);
  await showProgress(followPipeline(handle));
  const result = await pipelineResult(handle);
  if (result.error) console.error(result.error);
  if (flags.json) console.log(JSON.stringify(result));
  else if (process.stderr.isTTY && process.stdout.isTTY)
    console.log(`pipeline ${result.status}: ${result.workflowId}`);
  else console.log(`\n${statusTable(result)}\n\npipeline ${result.status}: ${result.workflowId}`);
  return result;
}

/** A live table on a terminal; plain lines (one per change) otherwise. */
async function showProgress(updates: AsyncIterable<PipelineStatusSnapshot>): Promise<void> {
  const tty = process.stderr.isTTY;
  let previous: PipelineStatusSnapshot | undefined;
  let drawnLines = 0;
  for await (const snapshot of updates) {
    if (tty) {
      const text = statusTable(snapshot);
      if (drawnLines) process.stderr.write(`\x1b[${drawnLines}A\x1b[0J`);
      process.stderr.write(`${text}\n`);
      drawnLines = text.split('\n').length;
    } else {
      for (const line of statusLines(previous, snapshot)) console.error(line);
    }
    previous = snapshot;
  }
}

export async function statusCommand(
  workflowId: string,
  flags: ConnectionFlags & { json?: boolean },
): Promise<number> {
  const { client, close } = await connectClient(flags);
  try {
    const snapshot = await pipelineStatus(client.workflow.getHandle(workflowId));
    console.log(
      flags.json
        ? JSON.stringify(snapshot)
        : `${snapshot.name} (${snapshot.workflowId}): ${snapshot.status}\n\n${statusTable(snapshot)}`,
    );
    return 0;
  } finally {
    await close();
  }
}

export async function cancelCommand(workflowId: string, flags: ConnectionFlags): Promise<number> {
  const { client, close } = await connectClient(flags);
  try {
    await cancelPipeline(client.workflow.getHandle(workflowId));
    console.error(
      `cancellation requested for ${workflowId}: running containers are aborted, then finally steps run`,
    );
    return 0;
  } finally {
    await close();
  }
}
