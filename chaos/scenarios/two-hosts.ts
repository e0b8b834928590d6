/**
 * Two workers as two hosts (separate roots, separate host queues, one shared queue). The host
 * running a step is SIGKILLed: the step moves to the other host and finishes there, while the
 * dead host's container keeps running in its root. When the dead host's worker comes back
 * (same root, same host queue), its start-up sweep removes that container.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Runsc } from '../../src/runtime/index.js';
import { runtimeUnderTest } from '../../test/support/runsc-builds.js';
import { isRunning, waitForStep } from '../pipelines.js';
import { check, type Scenario, seconds } from '../scenario.js';
import { chaosPipeline, exitsWith, hangsOnFirstAttempt } from '../steps.js';

export const twoHosts: Scenario = {
  name: 'two-hosts',
  timeoutMs: () => 240_000,
  async run(ctx) {
    const hosts = ['host-a', 'host-b'] as const;
    const roots = { 'host-a': await ctx.root('host-a'), 'host-b': await ctx.root('host-b') };
    const workers = {
      'host-a': await ctx.startWorker('host-a', roots['host-a']),
      'host-b': await ctx.startWorker('host-b', roots['host-b']),
    };
    const stateDir = join(ctx.workDir, 'state');
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, 'attempts'), '');

    // A step's host is lost after 5 s without heartbeat; its retry then waits 3 s for that
    // host's queue before the pipeline moves the step to a host that answers.
    const pipeline = await ctx.startPipeline(
      chaosPipeline('two-hosts', [hangsOnFirstAttempt('survivor', stateDir)], {
        finally: [exitsWith('report', 0)],
        defaults: { queueTimeout: '3s' },
      }),
    );
    const first = await waitForStep(pipeline.handle, 'survivor', isRunning, 60_000);
    const deadHost = hosts.find((h) => h === first.host);
    check(deadHost, `the step ran on an unknown host ${first.host}`);
    const otherHost = deadHost === 'host-a' ? 'host-b' : 'host-a';
    const deadRoot = roots[deadHost];
    const containerId = first.containerId as string;
    const deadRuntime = new Runsc({ root: deadRoot, command: runtimeUnderTest() });
    await waitForContainer(deadRuntime, containerId, 'running', 20_000);

    const killedAt = Date.now();
    await workers[deadHost].sigkill();
    ctx.note(`killed ${deadHost} while ${containerId} ran; waiting for the step on ${otherHost}`);
    const moved = await waitForStep(pipeline.handle, 'survivor', (s) => s.status !== 'running', 90_000);
    const movedAfterMs = Date.now() - killedAt;
    check(
      moved.status === 'succeeded' && moved.host === otherHost,
      `the step did not finish on ${otherHost} after ${deadHost} died: ${moved.status} on ${moved.host} (${moved.error ?? ''})`,
    );
    // The dead host's container outlives its worker: this is what its return must clean.
    const stillThere = (await deadRuntime.state(containerId).catch(() => undefined))?.status;
    check(
      stillThere === 'running',
      `${containerId} on dead ${deadHost} is ${stillThere ?? 'gone'} before it returns`,
    );

    const returned = await ctx.startWorker(deadHost, deadRoot);
    const swept = returned.ready.sweep?.containers.find((c) => c.id === containerId);
    check(
      swept?.action === 'aborted',
      `${deadHost}'s start-up sweep did not remove ${containerId}: ${JSON.stringify(returned.ready.sweep)}`,
    );
    check(!(await deadRuntime.exists(containerId)), `${containerId} still exists after ${deadHost} returned`);

    await ctx.settlePipelines(90_000);
    check(
      pipeline.result?.status === 'completed',
      `the pipeline ended ${pipeline.result?.status ?? pipeline.error} instead of completed`,
    );
    return `step moved ${deadHost}→${otherHost} ${seconds(movedAfterMs)}s after the kill; ${deadHost}'s sweep on return aborted its container (${swept.detail})`;
  },
};

async function waitForContainer(
  runtime: Runsc,
  id: string,
  status: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await runtime.state(id).catch(() => undefined))?.status !== status) {
    check(Date.now() < deadline, `container ${id} never became ${status}`);
    await sleep(50);
  }
}
