/**
 * A runtime that hangs: a test-only wrapper around runsc whose `list` never answers, and a
 * container left `stopped` (its `runsc run` SIGKILLed behind the library's back) whose lock a
 * process holds. The worker's start-up sweep and the janitor stay bounded and report the hung
 * list and the lock holder they ended; the worker keeps running pipelines meanwhile. Once the
 * real runtime is back, the next start-up sweep removes the stopped container.
 */
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createBundle } from '../../src/bundle/index.js';
import type { CleanupReport } from '../../src/host/cleanup.js';
import { RuntimeTimeout } from '../../src/runtime/errors.js';
import { globalArgs, Runsc } from '../../src/runtime/index.js';
import { runtimeUnderTest } from '../../test/support/runsc-builds.js';
import { fakeStuckRuntime, untilExecd } from '../../test/support/stuck-runtime.js';
import type { ScenarioContext } from '../harness.js';
import { check, type Scenario, seconds } from '../scenario.js';
import { chaosPipeline, exitsWith, killedBySignal, sleepsThenSucceeds } from '../steps.js';

/** TEST-ONLY: `list` blocks forever, everything else execs the runsc build under test. */
export const fakeRunscHangingList = fileURLToPath(
  new URL('../fixtures/fake-runsc-hanging-list.sh', import.meta.url),
);

export const hangingRuntime: Scenario = {
  name: 'hanging-runtime',
  timeoutMs: () => 240_000,
  async run(ctx) {
    const root = await ctx.root('host');
    const runtime = new Runsc({ root, command: runtimeUnderTest(), network: 'none' });
    const stuckId = `${ctx.containerPrefix}stuck`;
    await leaveStopped(ctx, runtime, stuckId);
    // Test-only fault: a runtime command of this root holds the stopped container's lock, as a
    // stuck runsc would (cleanup ends only runtime processes that name exactly its root).
    const stuck = fakeStuckRuntime({
      rootArg: root,
      subcommand: 'state',
      id: stuckId,
      lock: join(root, `${stuckId}_sandbox:${stuckId}.lock`),
    });
    const holder = ctx.spawnHelper('lock holder', stuck.command, stuck.args);
    // flock runs the shell in its own process once it holds the lock.
    await untilExecd(holder.pid as number, 'bash');
    const realListHangs = await runtime
      .withTimeout(1500)
      .list()
      .then(
        () => false,
        (error) => error instanceof RuntimeTimeout,
      );
    check(realListHangs, 'the held lock does not make the real `runsc list` hang: the fault is not in place');

    await chmod(fakeRunscHangingList, 0o755);
    const worker = await ctx.startWorker('host', root, {
      runtimeCommand: fakeRunscHangingList,
      // A sweep that waited on the hung list for ever would never be ready: becoming ready at all
      // (and reporting the hung list below) is what shows the sweep bounded, not how fast.
      readyTimeoutMs: 60_000,
    });
    const sweep = worker.ready.sweep;
    check(sweep, 'the worker did no start-up sweep');
    check(sweep.listHung, `the start-up sweep did not report the hung list: ${JSON.stringify(sweep)}`);
    check(
      sweep.hungProcessesKilled.some((p) => p.pid === holder.pid),
      `the start-up sweep did not end the lock holder ${holder.pid}: ${JSON.stringify(sweep.hungProcessesKilled)}`,
    );
    check(sweep.problems.length > 0, 'the start-up sweep said nothing about a list that still hangs');
    const holderEnd = await Promise.race([holder, sleep(5000).then(() => undefined)]);
    check(
      holderEnd?.signal === 'SIGKILL',
      `the lock holder was not ended: ${holderEnd?.signal ?? 'still running'}`,
    );

    // While the list still hangs, the janitor must come back with a report, and pipelines run.
    const janitorStarted = Date.now();
    const janitor = ctx.client.workflow.execute('hostJanitor', {
      taskQueue: ctx.taskQueue,
      workflowId: `${ctx.idPrefix}-janitor`,
      args: [{ hostQueue: ctx.hostQueueOf('host') }],
      workflowExecutionTimeout: '2m',
    }) as Promise<CleanupReport>;
    const pipeline = await ctx.startPipeline(
      chaosPipeline(
        'hanging-runtime',
        [
          sleepsThenSucceeds('ok', 1),
          exitsWith('three', 3, { continueOnError: true }),
          killedBySignal('signalled'),
        ],
        { finally: [exitsWith('report', 0)] },
      ),
    );
    const report = await janitor;
    const janitorMs = Date.now() - janitorStarted;
    check(
      report.listHung && report.problems.length > 0,
      `the janitor did not report the hung list: ${JSON.stringify(report)}`,
    );
    await ctx.settlePipelines(90_000);
    check(
      pipeline.result?.status === 'completed',
      `a pipeline on the worker with the hung runtime ended ${pipeline.result?.status ?? pipeline.error}`,
    );
    check(worker.alive(), 'the worker died');

    // The runtime is fixed: the next start-up sweep must remove what the hung one could not.
    await worker.stop();
    const fixed = await ctx.startWorker('host', root);
    const swept = fixed.ready.sweep?.containers.find((c) => c.id === stuckId);
    check(
      swept?.action === 'aborted',
      `with the real runtime back, the sweep did not remove ${stuckId}: ${JSON.stringify(fixed.ready.sweep)}`,
    );
    return `sweep reported the hung list and ended the lock holder in ${seconds(worker.ready.startMs)}s; janitor answered in ${seconds(janitorMs)}s; pipeline completed meanwhile; real-runtime sweep removed the stopped container`;
  },
};

/** A container left `stopped`: its `runsc run` SIGKILLed while the step runs (not through us). */
async function leaveStopped(ctx: ScenarioContext, runtime: Runsc, id: string): Promise<void> {
  const bundle = await createBundle(join(ctx.workDir, 'stuck-bundle'), {
    rootfs: ctx.env.rootfs,
    args: ['/bin/sleep', '600'],
    cgroupsPath: `/temporal-runsc/${id}`,
  });
  const run = ctx.spawnHelper('runsc run (to be killed)', runtime.command, [
    ...globalArgs(runtime.options),
    'run',
    '--bundle',
    bundle,
    id,
  ]);
  const deadline = Date.now() + 20_000;
  while ((await runtime.state(id).catch(() => undefined))?.status !== 'running') {
    check(Date.now() < deadline, `${id} never ran`);
    await sleep(50);
  }
  run.kill('SIGKILL');
  await run;
  // Current runsc says `running` for up to about 2 s after its `run` is SIGKILLed.
  const stoppedBy = Date.now() + 10_000;
  while ((await runtime.state(id).catch(() => undefined))?.status === 'running' && Date.now() < stoppedBy) {
    await sleep(50);
  }
  const status = (await runtime.state(id)).status;
  check(status === 'stopped', `${id} is ${status} after its run was SIGKILLed, not stopped`);
}
