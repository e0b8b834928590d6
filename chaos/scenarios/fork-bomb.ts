/**
 * A fork bomb contained by the step's pids limit (the smallest the library accepts). Forks
 * start failing inside the subshell, which gives up; the step's script then runs `exit 0`,
 * so that is its true exit code. Whatever the sandbox does when the limit is reached, the
 * pipeline must not report something else as the step's exit code, and nothing may be left.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { createBundle } from '../../src/bundle/index.js';
import { minimumPidsLimit } from '../../src/bundle/spec.js';
import { Runsc } from '../../src/runtime/index.js';
import type { ScenarioContext } from '../harness.js';
import { type Scenario, ScenarioFailure } from '../scenario.js';
import { chaosPipeline, exitsWith, scripted } from '../steps.js';
import { runOnePipeline, stepOf } from './one-pipeline.js';

const forkBombScript = '( while :; do sleep 600 & done ) 2>/dev/null; exit 0';

export const forkBomb: Scenario = {
  name: 'fork-bomb',
  timeoutMs: () => 180_000,
  async run(ctx) {
    const { tracked, root } = await runOnePipeline(
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
    if (step.exitCode !== 0) {
      const crash = await sandboxCrashOfDirectRun(ctx, root);
      throw new ScenarioFailure(
        `step fork-bomb ${step.status} with recorded exit code ${step.exitCode} (error: ${step.error ?? 'none'}), but its script ends with \`exit 0\`${
          crash
            ? `; the same script run directly with runsc --panic-log shows the sandbox itself crashed ("${crash}"): a runtime crash is recorded as the step's exit code`
            : ''
        }`,
      );
    }
    return `fork bomb under pids ${minimumPidsLimit}: ${step.status}, exit code ${step.exitCode}`;
  },
};

/**
 * Diagnosis only: runs the same script under the same pids limit with real runsc and its
 * `--panic-log`, and returns the first line the sandbox's Go runtime wrote there, if any.
 */
async function sandboxCrashOfDirectRun(ctx: ScenarioContext, root: string): Promise<string | undefined> {
  const id = `${ctx.containerPrefix}diagnose`;
  const panicLog = join(ctx.workDir, 'diagnose.panic.log');
  const bundle = await createBundle(join(ctx.workDir, 'diagnose-bundle'), {
    rootfs: ctx.env.rootfs,
    args: ['/bin/sh', '-c', forkBombScript],
    limits: { pids: minimumPidsLimit },
    cgroupsPath: `/temporal-runsc/${id}`,
  });
  await execa(
    'runsc',
    [
      `--root=${root}`,
      '--platform=ptrace',
      '--network=none',
      `--panic-log=${panicLog}`,
      'run',
      '--bundle',
      bundle,
      id,
    ],
    { reject: false, timeout: 60_000, stdin: 'ignore' },
  );
  const runtime = new Runsc({ root, platform: 'ptrace', network: 'none' });
  if (await runtime.exists(id)) await runtime.abort(id, { graceMs: 500 });
  const text = await readFile(panicLog, 'utf8').catch(() => '');
  return text
    .split('\n')
    .find((line) => line.trim())
    ?.trim();
}
