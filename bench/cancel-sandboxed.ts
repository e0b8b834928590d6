/**
 * Cancel-to-gone of a sandboxed step, two ways, same run, rounds interleaved: a one-step
 * sandboxPipeline, and the examples' own workflow (examples/own-worker: its own worker and task
 * queue, calling runSandboxed). The clock starts at the client's cancel call and stops when the
 * container's state files and processes are gone (bench/container-watch.ts). Real dev server
 * (its own, on a free port), a real sandbox worker on `temporal-runsc`, the runsc build under
 * test (TEMPORAL_RUNSC_TEST_RUNTIME, default the current one). As root:
 *
 *   tsx bench/cancel-sandboxed.ts [--rounds N]
 */
import { mkdir, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { createOwnWorker } from '../examples/own-worker/worker.js';
import type { sandboxed } from '../examples/own-worker/workflows.js';
import { workflowsPath } from '../examples/sandbox-worker/worker.js';
import { cancelPipeline, startPipeline } from '../src/client/index.js';
import { runningContainers } from '../src/client/running-steps.js';
import { devServerDynamicConfig, devServerExecutable, dynamicConfigArgs } from '../src/dev-server.js';
import { cleanupHost } from '../src/host/cleanup.js';
import { processesOfRoot } from '../src/host/processes.js';
import { ensureBusyboxRootfs } from '../src/rootfs.js';
import { Runsc } from '../src/runtime/index.js';
import { createSandboxWorker } from '../src/worker/index.js';
import { runtimeUnderTest } from '../test/support/runsc-builds.js';
import { watchUntilGone } from './container-watch.js';
import { nowMs, waitForRunningStep } from './pipelines.js';
import { summarize } from './stats.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' } } });
const rounds = Number(values.rounds);
if (process.getuid?.() !== 0) throw new Error('the bench runs runsc and needs root');

const root = `/run/temporal-runsc-cancel-bench/${process.pid}`;
const workDir = `/tmp/temporal-runsc-cancel-bench/${process.pid}`;
await mkdir(root, { recursive: true });
const env = await TestWorkflowEnvironment.createLocal({
  server: {
    executable: await devServerExecutable(),
    ip: '127.0.0.1',
    extraArgs: dynamicConfigArgs(devServerDynamicConfig),
  },
});
const runtime = new Runsc({ command: runtimeUnderTest(), root, network: 'none' });
const ownConnection = await NativeConnection.connect({ address: env.address });
try {
  const worker = await createSandboxWorker({
    connection: env.nativeConnection,
    runtime,
    workDir,
    rootfs: await ensureBusyboxRootfs(),
    workflowsPath,
    sweepOnStart: false,
    lockRoot: false,
  });
  const own = await createOwnWorker(ownConnection, 'cancel-bench-own');
  const samples = { pipeline: [] as number[], runSandboxed: [] as number[] };
  await own.runUntil(
    worker.runUntil(
      (async () => {
        for (let round = 0; round < rounds; round++) {
          const pipeline = await startPipeline(
            env.client,
            {
              name: 'cancel-bench',
              steps: [{ name: 'victim', args: ['/bin/sleep', '600'], retry: { maximumAttempts: 1 } }],
            },
            { taskQueue: worker.taskQueue },
          );
          const { containerId: inPipeline } = await waitForRunningStep(pipeline, 'victim');
          samples.pipeline.push(await cancelToGone(inPipeline, () => cancelPipeline(pipeline)));

          const handle = await env.client.workflow.start<typeof sandboxed>('sandboxed', {
            taskQueue: 'cancel-bench-own',
            workflowId: `cancel-bench-own-${round}`,
            args: [{ name: 'victim', args: ['/bin/sleep', '600'] }],
          });
          const inOwn = await runningContainer(handle);
          samples.runSandboxed.push(await cancelToGone(inOwn, () => handle.cancel()));
          await handle.result().catch(() => undefined);
        }
      })(),
    ),
  );
  const version = (await runtime.version()).version;
  console.log(
    JSON.stringify({ runtime: `${runtime.command} (${version})`, rounds, ...summaries(samples) }, null, 2),
  );
} finally {
  await ownConnection.close();
  await env.teardown();
  const left = [...(await runtime.list()), ...(await processesOfRoot(root))];
  if (left.length > 0) {
    console.error('left behind:', left);
    process.exitCode = 1;
  } else {
    // Current runsc leaves a mounted null-netns in every root it used: the library's wipe
    // removes it, then the root goes.
    await cleanupHost(runtime, { wipe: true });
    await rm(root, { recursive: true, force: true });
  }
  await rm(workDir, { recursive: true, force: true });
}

async function cancelToGone(containerId: string, cancel: () => Promise<unknown>): Promise<number> {
  const cancelledAt = nowMs();
  const gone = watchUntilGone(root, containerId);
  await cancel();
  return (await gone) - cancelledAt;
}

/** The container of the workflow's running step, from its first heartbeat. */
async function runningContainer(handle: WorkflowHandle): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = (await runningContainers(handle))[0];
    if (found && (await runtime.state(found.containerId).catch(() => undefined))?.status === 'running') {
      return found.containerId;
    }
    if (Date.now() > deadline) throw new Error('the step never ran');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function summaries(samples: Record<string, number[]>) {
  return Object.fromEntries(
    Object.entries(samples).map(([name, ms]) => [name, { ...summarize(ms), samples: ms.map(Math.round) }]),
  );
}
