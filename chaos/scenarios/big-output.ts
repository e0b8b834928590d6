/**
 * A step that prints 1 GiB: the worker streams it (tails in the result, the whole in the log
 * file) without holding it in memory, and the step's exit code is its own.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { check, type Scenario, seconds } from '../scenario.js';
import { chaosPipeline, exitsWith, scripted } from '../steps.js';
import { runOnePipeline, stepOf } from './one-pipeline.js';

const gib = 1024 * 1024 * 1024;

export const bigOutput: Scenario = {
  name: 'big-output',
  timeoutMs: () => 240_000,
  async run(ctx) {
    const { worker, tracked, peakRssAtStart } = await runOnePipeline(
      ctx,
      chaosPipeline(
        'big-output',
        [
          scripted('gigabyte', 'dd if=/dev/zero bs=1M count=1024 2>/dev/null; exit 0', {
            exitCode: 0,
            why: 'dd of /dev/zero to stdout cannot fail, then `exit 0`',
          }),
          exitsWith('after', 0),
        ],
        { finally: [exitsWith('report', 0)] },
      ),
      'completed',
    );
    const step = stepOf(tracked, 'gigabyte');
    check(
      step.stdoutTail.length <= 8 * 1024,
      `the result holds ${step.stdoutTail.length} bytes of stdout, not a tail`,
    );
    const log = join(ctx.workDir, 'host', 'logs', `${step.containerId}.log`);
    const logged = (await stat(log).catch(() => undefined))?.size ?? 0;
    check(logged >= gib, `the output log ${log} holds ${logged} bytes, not the whole 1 GiB`);
    await rm(log, { force: true }); // 1 GiB: not worth keeping even when a later check fails
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    const peak = (await worker.peakRssBytes()) ?? 0;
    check(
      peak - peakRssAtStart < 256 * 2 ** 20,
      `the worker's memory peak rose from ${mib(peakRssAtStart)} to ${mib(peak)} MiB while it streamed 1 GiB: the output was buffered`,
    );
    return `1 GiB through in ${seconds(step.durationMs ?? 0)}s, log kept it all, worker memory peak ${mib(peakRssAtStart)} -> ${mib(peak)} MiB`;
  },
};
