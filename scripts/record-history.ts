/**
 * Records the workflow histories that the replay test (test/unit/replay.test.ts) replays against
 * the current workflow code: a real dev server, a real sandbox worker, real runsc. Run it as root
 * with the workflow code whose histories must keep replaying, before changing that code:
 *
 *   tsx scripts/record-history.ts [--out DIR] [--label LABEL] [NAME...]
 *
 * Each pipeline below (or only those NAMEd) is one history file in DIR (default
 * test/fixtures/histories): `<name>.json`, or `<name>-<label>.json` with a label (say, which code
 * recorded it, to keep it beside an older one). See test/support/histories.ts for its form.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { cancelPipeline, pipelineStatus, startPipeline } from '../src/client/index.js';
import { devServerDynamicConfig, devServerExecutable, dynamicConfigArgs } from '../src/dev-server.js';
import { processesOfRoot } from '../src/host/processes.js';
import { ensureBusyboxRootfs } from '../src/rootfs.js';
import { Runsc } from '../src/runtime/index.js';
import { createSandboxWorker, packagedWorkflowsPath } from '../src/worker/index.js';
import { historyToFixture } from '../test/support/histories.js';
import type { PipelineInput, PipelineRunState } from '../workflows/types.js';

interface Recording {
  /** The pipeline; given as it is (unchecked by the client) when `raw`. */
  input: PipelineInput;
  /** Cancel the pipeline once these steps run (their containers are up). */
  cancelWhenRunning?: string[];
  /**
   * The pipeline's first host pick answers a host queue that no worker serves, so its first
   * step is never taken up (SCHEDULE_TO_START) and moves. A fake pick (the worker that runs the
   * pipeline is a plain one with its own hostQueue activity): a real host dies between the pick
   * and the start of its step only by chance.
   */
  firstPickGoesNowhere?: true;
  /** The second argument of sandboxPipeline (a small record budget makes it continue as new). */
  state?: PipelineRunState;
  /** One history file per run (`<name>-run<N>.json`): the pipeline continues as new. */
  runs?: boolean;
}

/** The pipelines: each shape of history the workflow code must keep replaying. */
const recordings: Recording[] = [
  {
    // References in a shell script's argument, in env and in a finally step; a result that
    // holds shell syntax (what the landed code substituted verbatim).
    input: {
      name: 'references',
      steps: [
        {
          name: 'build',
          args: ['/bin/sh', '-c', `echo '{"version":"2.0.1","v":"1; echo INJECTED"}' > /out/result.json`],
        },
        {
          name: 'use',
          args: ['/bin/sh', '-c', 'echo got ${steps.build.result.v} for ${steps.build.result.version}'],
          env: { VERSION: '${steps.build.result.version}' },
        },
        { name: 'plain', args: ['/bin/echo', 'version', '${steps.build.result.version}'] },
      ],
      finally: [{ name: 'notify', args: ['/bin/sh', '-c', 'echo "use exited ${steps.use.exitCode}"'] }],
    },
  },
  {
    // A parallel group (one host pick for both), a step that fails every retry (continueOnError),
    // and a later step that reads its exit code.
    input: {
      name: 'group-retry',
      steps: [
        { name: 'lint', group: 'checks', args: ['/bin/sh', '-c', 'echo lint'] },
        {
          name: 'flaky',
          group: 'checks',
          args: ['/bin/sh', '-c', 'echo failing >&2; exit 3'],
          retry: { maximumAttempts: 2, initialInterval: '100ms' },
          continueOnError: true,
        },
        { name: 'report', args: ['/bin/sh', '-c', 'echo flaky=${steps.flaky.exitCode}'] },
      ],
    },
  },
  {
    // A pipeline cancelled while a step runs: the abort through the control queue, then finally.
    input: {
      name: 'cancelled',
      steps: [
        { name: 'first', args: ['/bin/true'] },
        { name: 'long', args: ['/bin/sleep', '60'] },
        { name: 'after', args: ['/bin/true'] },
      ],
      finally: [{ name: 'notify', args: ['/bin/sh', '-c', 'echo notified after ${steps.first.exitCode}'] }],
    },
    cancelWhenRunning: ['long'],
  },
  {
    // A parallel group cancelled while both run: the finally step waits for both aborts.
    input: {
      name: 'cancelled-group',
      steps: [
        { name: 'quick', group: 'g', args: ['/bin/sleep', '60'] },
        {
          name: 'stubborn',
          group: 'g',
          args: ['/bin/sh', '-c', "trap '' TERM; sleep 60 & while :; do wait; done"],
        },
      ],
      finally: [{ name: 'notify', args: ['/bin/true'] }],
    },
    cancelWhenRunning: ['quick', 'stubborn'],
  },
  {
    // A step whose first host never takes it up: it moves to a host that answers.
    input: {
      name: 'never-picked-up',
      defaults: { queueTimeout: '2s' },
      steps: [{ name: 'moved', args: ['/bin/true'] }],
    },
    firstPickGoesNowhere: true,
  },
  {
    // An input that cannot run (no steps), from a client that skipped the file parser: the
    // workflow fails at once (InvalidPipeline), before any command but its patch marker.
    input: { name: 'invalid-input' } as PipelineInput,
  },
  {
    // Records past a (lowered) budget: the pipeline continues as new between batches, carrying
    // the first step's result to the last one and its records to the next run.
    input: {
      name: 'continued',
      steps: [
        { name: 'first', args: ['/bin/sh', '-c', `echo '{"v":"carried"}' > /out/result.json; seq 400`] },
        { name: 'a1', group: 'a', args: ['/bin/sh', '-c', 'seq 400'] },
        { name: 'a2', group: 'a', args: ['/bin/sh', '-c', 'seq 400 >&2'] },
        { name: 'middle', args: ['/bin/sh', '-c', 'seq 400'] },
        { name: 'last', args: ['/bin/echo', 'got ${steps.first.result.v}'] },
      ],
      finally: [{ name: 'notify', args: ['/bin/sh', '-c', 'echo first exited ${steps.first.exitCode}'] }],
    },
    state: { recordBudgetBytes: 2000 },
    runs: true,
  },
];

/** Each run of the workflow, first to last, following continue-as-new. */
async function runIds(handle: WorkflowHandle, first: string): Promise<string[]> {
  const ids = [first];
  for (;;) {
    const run = handle.client.getHandle(handle.workflowId, ids.at(-1));
    const events = (await run.fetchHistory()).events ?? [];
    const next = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (!next) return ids;
    ids.push(next);
  }
}

async function waitUntilRunning(handle: WorkflowHandle, step: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await pipelineStatus(handle);
    if (status.steps.find((s) => s.name === step)?.pid) return;
    if (Date.now() > deadline) throw new Error(`step ${step} never ran`);
    await sleep(50);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('recording runs runsc and needs root');
  const { values, positionals } = parseArgs({
    options: { out: { type: 'string', default: 'test/fixtures/histories' }, label: { type: 'string' } },
    allowPositionals: true,
  });
  const unknown = positionals.filter((name) => !recordings.some((r) => r.input.name === name));
  if (unknown.length > 0) throw new Error(`no pipeline named ${unknown.join(', ')} to record`);
  const chosen = recordings.filter((r) => positionals.length === 0 || positionals.includes(r.input.name));
  const outDir = resolve(values.out);
  const runscRoot = `/run/temporal-runsc-record/${process.pid}`;
  const workDir = `/tmp/temporal-runsc-record/${process.pid}`;
  await mkdir(runscRoot, { recursive: true });
  await mkdir(outDir, { recursive: true });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: await devServerExecutable(),
      ip: '127.0.0.1',
      extraArgs: dynamicConfigArgs(devServerDynamicConfig),
    },
  });
  const taskQueue = 'trs-record';
  try {
    const worker = await createSandboxWorker({
      connection: env.nativeConnection,
      taskQueue,
      host: 'record-host',
      runtime: { root: runscRoot, platform: 'ptrace', network: 'none' },
      workDir,
      rootfs: await ensureBusyboxRootfs(),
      graceMs: 1000,
      sweepOnStart: false,
    });
    // Serves the pipelines whose first pick goes nowhere; later picks answer the real host.
    let picks = 0;
    const nowhereFirst = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `${taskQueue}-nowhere-first`,
      workflowsPath: packagedWorkflowsPath(),
      activities: {
        hostQueue: async () =>
          picks++ === 0
            ? { host: 'gone-host', hostQueue: `${taskQueue}@gone-host` }
            : { host: worker.host, hostQueue: worker.hostQueue },
      },
    });
    await nowhereFirst.runUntil(
      worker.runUntil(
        (async () => {
          for (const { input, state, cancelWhenRunning, firstPickGoesNowhere, runs } of chosen) {
            const workflowId = `record-${input.name}${values.label ? `-${values.label}` : ''}`;
            const queue = firstPickGoesNowhere ? `${taskQueue}-nowhere-first` : taskQueue;
            const handle =
              state || !input.steps
                ? await env.client.workflow.start('sandboxPipeline', {
                    taskQueue: queue,
                    workflowId,
                    args: state ? [input, state] : [input],
                  })
                : await startPipeline(env.client, input, { taskQueue: queue, workflowId });
            if (cancelWhenRunning) {
              for (const step of cancelWhenRunning) await waitUntilRunning(handle, step);
              await cancelPipeline(handle);
            }
            const outcome = await handle.result().then(
              () => 'completed',
              (error: Error) => `closed with ${error.name}`,
            );
            const base = values.label ? `${input.name}-${values.label}` : input.name;
            const ids = runs
              ? await runIds(handle, (handle as WorkflowHandleWithFirstExecutionRunId).firstExecutionRunId)
              : [undefined];
            for (const [index, runId] of ids.entries()) {
              const file = join(outDir, `${base}${runs ? `-run${index + 1}` : ''}.json`);
              const run = env.client.workflow.getHandle(workflowId, runId);
              await writeFile(file, historyToFixture(await run.fetchHistory()));
              console.log(`${input.name}: ${outcome}; history in ${file}`);
            }
          }
        })(),
      ),
    );
  } finally {
    await env.teardown();
    const left = await new Runsc({ root: runscRoot }).list();
    const processes = await processesOfRoot(runscRoot);
    if (left.length > 0 || processes.length > 0) {
      console.error(`left behind in ${runscRoot}:`, left, processes);
      process.exitCode = 1;
    } else {
      await rm(runscRoot, { recursive: true, force: true });
      await rm(workDir, { recursive: true, force: true });
    }
  }
}

await main();
