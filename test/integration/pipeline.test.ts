/** sandboxPipeline end to end: groups, results between steps, finally, status, the CLI's JSON. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultPayloadConverter } from '@temporalio/common';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cancelPipeline, pipelineResult, pipelineStatus, startPipeline } from '../../src/client/index.js';
import { controlQueueFor } from '../../workflows/control-queue.js';
import type { PipelineInput, PipelineResult } from '../../workflows/types.js';
import { pathWithRuntimeUnderTest, removeTestRoot, testRuntime } from '../support/runtime.js';
import { startTestCluster, type TestCluster, waitForRunningStep } from '../support/worker.js';

const runtime = testRuntime();
let cluster: TestCluster;

beforeAll(async () => {
  // Steps here share folders under the suite's work dir (the /sync of parallel steps).
  cluster = await startTestCluster({ policy: { mounts: { readWrite: [inject('workDir')] } } });
});

afterAll(async () => {
  await cluster?.stop();
});

async function runToEnd(input: PipelineInput): Promise<PipelineResult> {
  return pipelineResult(await startPipeline(cluster.client, input, { taskQueue: cluster.taskQueue }));
}

describe('sandboxPipeline', () => {
  it('runs a parallel group between two steps and passes results along', async () => {
    const sync = join(inject('workDir'), `sync-${Date.now()}`);
    await mkdir(sync, { recursive: true });
    // Each member of the group waits (up to 10 s) for the other to start: only parallel runs pass.
    const meet = (me: string, other: string) =>
      `touch /sync/${me}; for i in $(seq 100); do [ -e /sync/${other} ] && break; sleep 0.1; done; [ -e /sync/${other} ] || exit 1`;
    const mounts = [{ source: sync, destination: '/sync', readOnly: false }];
    const result = await runToEnd({
      name: 'three-steps',
      steps: [
        {
          name: 'build',
          args: ['/bin/sh', '-c', 'echo \'{"version":"2.0.1","files":["a","b"]}\' > /out/result.json'],
        },
        {
          name: 'lint',
          group: 'checks',
          mounts,
          args: ['/bin/sh', '-c', `${meet('lint', 'unit')}; echo lint \${steps.build.result.version}`],
        },
        {
          name: 'unit',
          group: 'checks',
          mounts,
          args: ['/bin/sh', '-c', `${meet('unit', 'lint')}; echo "unit $FILES"`],
          env: { FILES: '${steps.build.result.files}' },
        },
        {
          name: 'ship',
          args: ['/bin/sh', '-c', 'echo "ship $VERSION after lint=${steps.lint.exitCode}"'],
          env: { VERSION: '${steps.build.result.version}' },
        },
      ],
    });
    expect(result.status).toBe('completed');
    const byName = Object.fromEntries(result.steps.map((s) => [s.name, s]));
    expect(byName.build?.result).toEqual({ version: '2.0.1', files: ['a', 'b'] });
    expect(byName.lint?.stdoutTail).toBe('lint 2.0.1\n');
    expect(byName.unit?.stdoutTail).toBe('unit ["a","b"]\n');
    expect(byName.ship?.stdoutTail).toBe('ship 2.0.1 after lint=0\n');
  });

  it('runs finally steps after a failure, skips the rest, and fails the pipeline', async () => {
    const result = await runToEnd({
      name: 'fails',
      steps: [
        { name: 'bad', args: ['/bin/sh', '-c', 'echo boom >&2; exit 4'], retry: { maximumAttempts: 1 } },
        { name: 'never', args: ['/bin/true'] },
      ],
      finally: [{ name: 'always', args: ['/bin/sh', '-c', 'echo cleanup after bad=${steps.bad.exitCode}'] }],
    });
    expect(result.status).toBe('failed');
    expect(result.steps).toEqual([
      expect.objectContaining({ name: 'bad', status: 'failed', exitCode: 4, stderrTail: 'boom\n' }),
      expect.objectContaining({ name: 'never', status: 'skipped' }),
      expect.objectContaining({
        name: 'always',
        status: 'succeeded',
        finally: true,
        stdoutTail: 'cleanup after bad=4\n',
      }),
    ]);
  });

  it('reports a failing finally step instead of hiding it', async () => {
    const result = await runToEnd({
      name: 'finally-fails',
      steps: [{ name: 'ok', args: ['/bin/true'] }],
      finally: [{ name: 'teardown', args: ['/bin/sh', '-c', 'exit 2'], retry: { maximumAttempts: 1 } }],
    });
    expect(result.status).toBe('failed');
    expect(result.steps[1]).toMatchObject({ name: 'teardown', status: 'failed', exitCode: 2 });
  });

  it('on cancellation, aborts the running container, runs finally, and records every step', async () => {
    const handle = await startPipeline(
      cluster.client,
      {
        name: 'cancelled',
        steps: [
          { name: 'first', args: ['/bin/true'] },
          { name: 'long', args: ['/bin/sleep', '60'] },
          { name: 'after', args: ['/bin/true'] },
        ],
        finally: [{ name: 'notify', args: ['/bin/sh', '-c', 'echo notified'] }],
      },
      { taskQueue: cluster.taskQueue },
    );
    let containerId: string | null | undefined;
    const deadline = Date.now() + 20_000;
    while (!containerId || !(await runtime.exists(containerId))) {
      const status = await pipelineStatus(handle);
      const long = status.steps.find((s) => s.name === 'long');
      // The status query shows the running step with its container and the runsc PID.
      if (long?.status === 'running' && long.pid) {
        expect(long).toMatchObject({ host: 'test-host', attempts: 1 });
        containerId = long.containerId;
      }
      if (Date.now() > deadline) throw new Error('long never ran');
      await sleep(50);
    }
    await cancelPipeline(handle);
    const result = await pipelineResult(handle);
    expect(result.status).toBe('cancelled');
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([
      ['first', 'succeeded'],
      ['long', 'cancelled'],
      ['after', 'skipped'],
      ['notify', 'succeeded'],
    ]);
    expect(await runtime.exists(containerId as string)).toBe(false);
  });

  it('a cancelled pipeline tells the running step’s host at once, on its control queue', async () => {
    const handle = await startPipeline(
      cluster.client,
      // A long heartbeat timeout: the step's first heartbeat (which shows its pid) comes after
      // 1 s, and with it the SDK's throttle puts the next one 2 s later.
      {
        name: 'abort-through-control',
        steps: [
          {
            name: 'long',
            // Slow to die on TERM: should the heartbeat bring the cancellation first, the step is
            // still being aborted (still registered) when abortStep arrives.
            args: ['/bin/sh', '-c', "trap 'sleep 0.5; exit 143' TERM; sleep 60 & wait"],
            heartbeatTimeout: '60s',
          },
        ],
      },
      { taskQueue: cluster.taskQueue },
    );
    let containerId: string | null | undefined;
    const deadline = Date.now() + 20_000;
    while (!containerId) {
      const long = (await pipelineStatus(handle)).steps.find((s) => s.name === 'long');
      if (long?.status === 'running' && long.pid) containerId = long.containerId;
      if (Date.now() > deadline) throw new Error('long never ran');
      await sleep(50);
    }
    await cancelPipeline(handle);
    const result = await pipelineResult(handle);
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([['long', 'cancelled']]);
    expect(await runtime.exists(containerId as string)).toBe(false);

    // The history shows the request to the host's control queue, which found the step running.
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'abortStep',
    );
    expect(scheduled?.activityTaskScheduledEventAttributes?.taskQueue?.name).toBe(
      controlQueueFor(cluster.worker.hostQueue),
    );
    expect(cluster.worker.controlQueue).toBe(controlQueueFor(cluster.worker.hostQueue));
    const completed = events.find(
      (e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled?.eventId),
    );
    const payload = completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    expect(payload && defaultPayloadConverter.fromPayload(payload)).toEqual({ running: true });
  });
  it('a cancelled group aborts all its members before the finally steps run', async () => {
    const handle = await startPipeline(
      cluster.client,
      {
        name: 'cancelled-group',
        steps: [
          { name: 'quick', group: 'g', args: ['/bin/sleep', '60'] },
          // Ignores TERM: its abort waits out the worker's grace, then KILLs it, well after quick's.
          {
            name: 'stubborn',
            group: 'g',
            args: ['/bin/sh', '-c', "trap '' TERM; sleep 60 & while :; do wait; done"],
          },
        ],
        finally: [{ name: 'notify', args: ['/bin/true'] }],
      },
      { taskQueue: cluster.taskQueue },
    );
    const running = [await waitForRunningStep(handle, 'quick'), await waitForRunningStep(handle, 'stubborn')];
    await cancelPipeline(handle);
    const result = await pipelineResult(handle);
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([
      ['quick', 'cancelled'],
      ['stubborn', 'cancelled'],
      ['notify', 'succeeded'],
    ]);
    for (const step of running) expect(await runtime.exists(step.containerId as string)).toBe(false);

    // In the history, notify was scheduled only after both members' activities had closed.
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduledAt = new Map<string, number>();
    for (const e of events) {
      const attributes = e.activityTaskScheduledEventAttributes;
      const payload = attributes?.input?.payloads?.[0];
      if (attributes?.activityType?.name !== 'runContainer' || !payload) continue;
      const { step } = defaultPayloadConverter.fromPayload(payload) as { step: string };
      scheduledAt.set(String(e.eventId), Number(e.eventId));
      scheduledAt.set(step, Number(e.eventId));
    }
    const closedAt = (step: string) =>
      Number(
        events.find((e) =>
          [e.activityTaskFailedEventAttributes, e.activityTaskCanceledEventAttributes].some(
            (a) => a && Number(a.scheduledEventId) === scheduledAt.get(step),
          ),
        )?.eventId,
      );
    const notifyScheduled = scheduledAt.get('notify') as number;
    expect(closedAt('quick')).toBeLessThan(notifyScheduled);
    expect(closedAt('stubborn')).toBeLessThan(notifyScheduled);
  });
});

describe('the CLI', () => {
  const cli = (args: string[]) =>
    execa('node', ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      reject: false,
      env: { TEMPORAL_ADDRESS: inject('temporalAddress') },
    });

  it('run --json prints the result contract and exits non-zero when the pipeline failed', async () => {
    const file = join(inject('workDir'), 'cli-failing.yaml');
    await writeFile(
      file,
      [
        'name: cli-failing',
        'defaults:',
        `  rootfs: ${inject('rootfs')}`,
        'steps:',
        '  - name: hello',
        '    args: [/bin/sh, -c, "echo hi"]',
        '  - name: boom',
        '    args: [/bin/sh, -c, "exit 9"]',
        '    retry: { maximumAttempts: 1 }',
      ].join('\n'),
    );
    const run = await cli(['run', file, '--json', '--task-queue', cluster.taskQueue]);
    expect(run.exitCode).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(Object.keys(result).sort()).toEqual(['status', 'steps', 'workflowId']);
    expect(result.status).toBe('failed');
    expect(result.steps[0]).toEqual({
      name: 'hello',
      status: 'succeeded',
      exitCode: 0,
      signal: null,
      attempts: 1,
      containerId: expect.stringMatching(/^trs-/),
      host: 'test-host',
      pid: null,
      durationMs: expect.any(Number),
      stdoutTail: 'hi\n',
      stderrTail: '',
    });
    expect(result.steps[1]).toMatchObject({ name: 'boom', status: 'failed', exitCode: 9 });
  });

  it('run --json exits 0 when the pipeline completed', async () => {
    const file = join(inject('workDir'), 'cli-ok.json');
    await writeFile(
      file,
      JSON.stringify({
        name: 'cli-ok',
        defaults: { rootfs: inject('rootfs') },
        steps: [{ name: 'ok', args: ['/bin/true'] }],
      }),
    );
    const run = await cli(['run', file, '--json', '--task-queue', cluster.taskQueue]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'completed' });
  });

  it('run refuses a malformed file before starting anything, naming the field and line', async () => {
    const file = join(inject('workDir'), 'cli-bad.yaml');
    await writeFile(file, ['name: bad', 'steps:', '  - name: x', '    args: []'].join('\n'));
    const run = await cli(['run', file, '--task-queue', cluster.taskQueue]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/steps\[0\]\.args \(line 4\)/);
  });

  it('demo runs the example pipeline to completion and leaves no container', async () => {
    // A root of its own beside the suite's (never inside it: cleanup does not enter nested roots).
    const root = `${inject('runscRoot')}-demo`;
    // The demo calls `runsc` from PATH, as a user runs it: there, the build under test.
    const run = await execa(
      'node',
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'demo',
        '--address',
        inject('temporalAddress'),
        '--root',
        root,
        '--work-dir',
        join(inject('workDir'), 'demo'),
      ],
      { reject: false, env: { PATH: await pathWithRuntimeUnderTest() } },
    );
    await removeTestRoot(root);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/runsc list on .*: empty; sandbox processes left: 0/);
    for (const step of ['build', 'flaky-fetch', 'test-unit', 'test-slow', 'report'])
      expect(run.stdout).toContain(step);
  });
});
