/**
 * A step's root filesystem is removed while the step runs: the running step still ends with
 * its own exit code, the next step that names that rootfs is refused before anything starts
 * (no exit code: it never ran), and the `finally` step still runs on the default rootfs.
 */
import { cp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Runsc } from '../../src/runtime/index.js';
import { runtimeUnderTest } from '../../test/support/runsc-builds.js';
import { isRunning, waitForStep } from '../pipelines.js';
import { check, type Scenario } from '../scenario.js';
import { chaosPipeline, exitsWith, scripted } from '../steps.js';
import { stepOf } from './one-pipeline.js';

export const rootfsVanishes: Scenario = {
  name: 'rootfs-vanishes',
  timeoutMs: () => 180_000,
  async run(ctx) {
    const rootfs = join(ctx.workDir, 'rootfs');
    await cp(ctx.env.rootfs, rootfs, { recursive: true, verbatimSymlinks: true });
    const root = await ctx.root('host');
    await ctx.startWorker('host', root);
    const tracked = await ctx.startPipeline(
      chaosPipeline(
        'rootfs-vanishes',
        [
          scripted(
            'while-removed',
            'sleep 4; exit 0',
            { exitCode: 0, why: '`sleep 4; exit 0` ends with the `exit` builtin, which needs no file' },
            { rootfs },
          ),
          scripted(
            'after-removed',
            'exit 0',
            { exitCode: null, why: 'its rootfs is gone before it starts, so it never runs' },
            { rootfs },
          ),
        ],
        { finally: [exitsWith('report', 0)] },
      ),
    );
    const running = await waitForStep(tracked.handle, 'while-removed', isRunning, 60_000);
    const runtime = new Runsc({ root, command: runtimeUnderTest() });
    while (
      (await runtime.state(running.containerId as string).catch(() => undefined))?.status !== 'running'
    ) {
      await sleep(50);
    }
    await sleep(1000); // `sleep` has been exec'd: from here the script needs no file to finish
    await rm(rootfs, { recursive: true, force: true });
    check(!(await stat(rootfs).catch(() => undefined)), 'the rootfs could not be removed');

    await ctx.settlePipelines(120_000);
    check(
      tracked.result?.status === 'failed',
      `the pipeline ended ${tracked.result?.status ?? tracked.error}, not failed`,
    );
    const during = stepOf(tracked, 'while-removed');
    const after = stepOf(tracked, 'after-removed');
    const report = stepOf(tracked, 'report');
    check(
      during.status === 'succeeded',
      `the step whose rootfs vanished mid-run ${during.status}: ${during.error ?? ''}`,
    );
    check(
      after.status === 'failed' && /rootfs/.test(after.error ?? '') && after.attempts <= 1,
      `the step on the vanished rootfs: ${after.status}, attempts ${after.attempts}, error ${after.error ?? 'none'}`,
    );
    check(report.status === 'succeeded', `the finally step ${report.status}`);
    return `running step ended 0 without its rootfs; next step refused (${(after.error ?? '').slice(0, 60)}...); finally ran`;
  },
};
