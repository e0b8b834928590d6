/**
 * A step that forks 300 processes and exits while they all still run: the sandbox takes them
 * down with it, nothing of them is left on the host, and the exit code is the step's own.
 */
import { check, type Scenario, seconds } from '../scenario.js';
import { chaosPipeline, exitsWith, scripted } from '../steps.js';
import { runOnePipeline, stepOf } from './one-pipeline.js';

export const forkMany: Scenario = {
  name: 'fork-many',
  timeoutMs: () => 180_000,
  async run(ctx) {
    const { tracked } = await runOnePipeline(
      ctx,
      chaosPipeline(
        'fork-many',
        [
          scripted(
            'fork-300',
            'i=0; while [ $i -lt 300 ]; do sleep 600 & i=$((i+1)); done; echo forked $i; exit 0',
            { exitCode: 0, why: 'it forks 300 sleeps (pids limit 4096) and then runs `exit 0`' },
            // Above the policy's default (256), at its default maximum: under ptrace each guest
            // process is a host thread of the sandbox, counted by the limit.
            { limits: { pids: 4096 } },
          ),
          exitsWith('after', 0),
        ],
        { finally: [exitsWith('report', 0)] },
      ),
      'completed',
    );
    const step = stepOf(tracked, 'fork-300');
    check(step.stdoutTail.includes('forked 300'), `the step did not fork 300 processes: ${step.stdoutTail}`);
    return `300 processes forked and left running at exit, taken down in ${seconds(step.durationMs ?? 0)}s`;
  },
};
