/**
 * A fork bomb under the step's pids limit (the smallest the library accepts on the platform of
 * the runsc build under test: 64 under systrap, 128 under ptrace). Two outcomes are
 * true, and the scenario accepts only those:
 *  - the limit holds inside the sandbox: forks fail in the subshell, which gives up, and the
 *    script's `exit 0` is the step's exit code;
 *  - the sandbox itself crashes: under ptrace every guest task is a host thread counted against
 *    the same pids limit, so the sandbox's Go runtime can fail to start a thread and panic
 *    (measured: 3 runs in 4 with pids 128). runsc then exits 2, which is not the step's code:
 *    the step must be recorded as failed with no exit code and the crash named.
 * Either way the pipeline goes on and nothing is left behind (the audit).
 */
import { minimumPidsLimitFor } from '../../src/bundle/spec.js';
import { Runsc, runtimePlatform } from '../../src/runtime/index.js';
import { runtimeUnderTest } from '../../test/support/runsc-builds.js';
import { type Scenario, ScenarioFailure } from '../scenario.js';
import { chaosPipeline, exitsWith, isRecordedSandboxCrash, scripted } from '../steps.js';
import { runOnePipeline, stepOf } from './one-pipeline.js';

const forkBombScript = '( while :; do sleep 600 & done ) 2>/dev/null; exit 0';

export const forkBomb: Scenario = {
  name: 'fork-bomb',
  timeoutMs: () => 180_000,
  async run(ctx) {
    const minimumPidsLimit = minimumPidsLimitFor(
      await runtimePlatform(new Runsc({ command: runtimeUnderTest() })),
    );
    const { tracked } = await runOnePipeline(
      ctx,
      chaosPipeline(
        'fork-bomb',
        [
          scripted(
            'fork-bomb',
            forkBombScript,
            {
              exitCode: 0,
              why: `its forks run in a subshell that ends when fork fails under pids ${minimumPidsLimit}, then it runs \`exit 0\``,
              sandboxMayCrash: true,
            },
            {
              limits: { pids: minimumPidsLimit },
              timeout: '60s',
              retry: { maximumAttempts: 1 },
              continueOnError: true,
            },
          ),
          exitsWith('after', 0),
        ],
        { finally: [exitsWith('report', 0)] },
      ),
      'completed',
    );
    const step = stepOf(tracked, 'fork-bomb');
    if (isRecordedSandboxCrash(step)) {
      return `fork bomb under pids ${minimumPidsLimit}: the sandbox crashed and the step was recorded as such, with no exit code (${step.error})`;
    }
    if (step.exitCode !== 0) {
      throw new ScenarioFailure(
        `step fork-bomb ${step.status} with recorded exit code ${step.exitCode} (error: ${step.error ?? 'none'}), but its script ends with \`exit 0\` and no sandbox crash was reported`,
      );
    }
    return `fork bomb under pids ${minimumPidsLimit}: contained, exit code 0`;
  },
};
