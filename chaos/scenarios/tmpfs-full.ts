/**
 * A step that fills its /tmp (a 64 MiB tmpfs) past the brim: the write fails inside the
 * sandbox, the step exits with the code its script gives that failure, and the next step gets
 * a fresh, empty /tmp.
 */
import { check, type Scenario } from '../scenario.js';
import { chaosPipeline, exitsWith, scripted } from '../steps.js';
import { runOnePipeline, stepOf } from './one-pipeline.js';

export const tmpfsFull: Scenario = {
  name: 'tmpfs-full',
  timeoutMs: () => 180_000,
  async run(ctx) {
    const { tracked } = await runOnePipeline(
      ctx,
      chaosPipeline(
        'tmpfs-full',
        [
          scripted(
            'fill-tmp',
            'dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>/dev/null && exit 0; df -k /tmp | tail -1; exit 3',
            { exitCode: 3, why: 'writing 200 MiB to a 64 MiB /tmp fails, and then it runs `exit 3`' },
            {
              limits: { memoryBytes: 512 * 1024 * 1024 },
              continueOnError: true,
              retry: { maximumAttempts: 1 },
            },
          ),
          scripted('fresh-tmp', '[ ! -e /tmp/fill ] && exit 0; exit 4', {
            exitCode: 0,
            why: 'a new container starts with an empty /tmp, so it runs `exit 0`',
          }),
        ],
        { finally: [exitsWith('report', 0)] },
      ),
      'completed',
    );
    const fill = stepOf(tracked, 'fill-tmp');
    check(fill.status === 'failed', `fill-tmp ${fill.status}: /tmp took 200 MiB`);
    return `dd into a full /tmp failed inside the sandbox (${fill.stdoutTail.trim().split(/\s+/).slice(1, 4).join(' ')} KiB), next step had a fresh /tmp`;
  },
};
