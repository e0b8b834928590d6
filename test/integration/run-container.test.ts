/** The runContainer activity in a MockActivityEnvironment, against real runsc. */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, inject, it } from 'vitest';
import type {
  RunContainerInput,
  RunContainerResult,
  RunHeartbeat,
  SandboxActivities,
} from '../../activities/index.js';
import { makeContainerId } from '../../src/runtime/index.js';
import { testActivities, testHost, testHostQueue } from '../support/activities.js';
import { testBundle, testRuntime, uniqueId } from '../support/runtime.js';

const runtime = testRuntime();

function mockEnvironment(info: Record<string, unknown> = {}) {
  const workflowId = uniqueId('wf');
  return new MockActivityEnvironment({
    workflowExecution: { workflowId, runId: 'run-1' },
    activityId: '1',
    attempt: 1,
    heartbeatTimeoutMs: 2000,
    ...info,
  } as never);
}

/** The id parts mockEnvironment's activities see (the mock's namespace is `default`). */
function idOf(workflowId: string) {
  return { namespace: 'default', workflowId, runId: 'run-1' };
}

function runStep(
  env: MockActivityEnvironment,
  activities: SandboxActivities,
  input: RunContainerInput,
): Promise<RunContainerResult> {
  return env.run(activities.runContainer, input);
}

async function waitForHeartbeat(
  heartbeats: RunHeartbeat[],
  predicate: (h: RunHeartbeat) => boolean,
  timeoutMs = 10_000,
): Promise<RunHeartbeat> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = heartbeats.find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no such heartbeat in ${JSON.stringify(heartbeats)}`);
    await sleep(20);
  }
}

describe('runContainer', () => {
  it('returns exit code, output tails, the log path and where it ran', async () => {
    const activities = await testActivities();
    const env = mockEnvironment();
    const result = await runStep(env, activities, {
      step: 'hello',
      args: ['/bin/sh', '-c', 'echo out; echo err >&2'],
    });
    expect(result).toMatchObject({
      step: 'hello',
      exitCode: 0,
      signal: null,
      stdoutTail: 'out\n',
      stderrTail: 'err\n',
      host: testHost,
      hostQueue: testHostQueue,
      attempt: 1,
    });
    // The log holds each stream's lines as records (src/output/records.ts).
    const log = await readFile(result.logPath, 'utf8');
    expect(log).toMatch(/ stdout F out\n/);
    expect(log).toMatch(/ stderr F err\n/);
    expect(await runtime.exists(result.containerId)).toBe(false);
  });

  it('heartbeats the real PID of the runsc run process, and the container id', async () => {
    const activities = await testActivities();
    const env = mockEnvironment();
    const heartbeats: RunHeartbeat[] = [];
    env.on('heartbeat', (d: RunHeartbeat) => heartbeats.push(d));
    const running = runStep(env, activities, { step: 'sleeper', args: ['/bin/sleep', '3'] });
    const beat = await waitForHeartbeat(heartbeats, (h) => h.pid !== undefined);
    const cmdline = (await readFile(`/proc/${beat.pid}/cmdline`, 'utf8')).split('\0');
    expect(cmdline).toContain('run');
    expect(cmdline).toContain(beat.containerId);
    expect(beat).toMatchObject({ host: testHost, hostQueue: testHostQueue });
    expect(JSON.stringify(heartbeats)).not.toMatch(/SECRET/);
    await running;
  });

  it('keeps environment values out of heartbeats and results', async () => {
    const activities = await testActivities();
    const env = mockEnvironment();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const result = await runStep(env, activities, {
      step: 'secret',
      args: ['/bin/sh', '-c', 'test -n "$TOKEN"'],
      env: { TOKEN: 'SECRET-VALUE-123' },
    });
    expect(result.exitCode).toBe(0);
    expect(JSON.stringify([heartbeats, result])).not.toContain('SECRET-VALUE-123');
  });

  it('on cancel() during a long step, rethrows the cancellation once the container is gone', async () => {
    const activities = await testActivities();
    const env = mockEnvironment();
    const heartbeats: RunHeartbeat[] = [];
    env.on('heartbeat', (d: RunHeartbeat) => heartbeats.push(d));
    const running = runStep(env, activities, { step: 'long', args: ['/bin/sleep', '30'] });
    const beat = await waitForHeartbeat(heartbeats, (h) => h.pid !== undefined);
    await waitUntilRunning(beat.containerId);

    const cancelledAt = Date.now();
    env.cancel();
    const error = await running.catch((e: unknown) => e);
    const elapsed = Date.now() - cancelledAt;
    console.log(`cancel-to-rethrow: ${elapsed} ms`);
    expect(error).toBeInstanceOf(CancelledFailure);
    expect(await runtime.exists(beat.containerId)).toBe(false);
    expect(await runtime.list()).toEqual([]);
  });

  it('attempt 2 first kills attempt 1’s container that still runs on this host', async () => {
    const activities = await testActivities();
    const workflowId = uniqueId('wf');
    const firstId = makeContainerId({ ...idOf(workflowId), activityId: '1', attempt: 1 });
    const firstRun = runtime.run(firstId, await testBundle(firstId, ['/bin/sleep', '30']));
    await waitUntilRunning(firstId);

    const env = mockEnvironment({
      workflowExecution: { workflowId, runId: 'run-1' },
      attempt: 2,
      heartbeatDetails: {
        containerId: firstId,
        host: testHost,
        hostQueue: testHostQueue,
        startedAt: new Date().toISOString(),
        stdoutBytes: 0,
        stderrBytes: 0,
      } satisfies RunHeartbeat,
    });
    let firstGoneBeforeSecondStarted: boolean | undefined;
    env.on('heartbeat', (d: RunHeartbeat) => {
      if (d.pid !== undefined && firstGoneBeforeSecondStarted === undefined) {
        firstGoneBeforeSecondStarted = runtime.exists(firstId).then((e) => !e) as never;
      }
    });
    // Long enough for a heartbeat (the first waits for the first tick).
    const result = await runStep(env, activities, { step: 'retry', args: ['/bin/sleep', '1'] });
    expect(result.previousAttempt).toMatchObject({ containerId: firstId, outcome: 'cleaned' });
    expect(result.containerId).not.toBe(firstId);
    expect(await firstGoneBeforeSecondStarted).toBe(true);
    expect((await firstRun).exitCode).toBe(143);
  });

  it('attempt 3 removes the containers of attempts 1 and 2 even when they never heartbeated', async () => {
    const activities = await testActivities();
    const workflowId = uniqueId('wf');
    const earlier = [1, 2].map((attempt) =>
      makeContainerId({ ...idOf(workflowId), activityId: '1', attempt }),
    );
    const runs = earlier.map(async (id) => runtime.run(id, await testBundle(id, ['/bin/sleep', '30'])));
    for (const id of earlier) await waitUntilRunning(id);

    // A worker that died before its first heartbeat leaves no details: the ids are found by attempt.
    const env = mockEnvironment({ workflowExecution: { workflowId, runId: 'run-1' }, attempt: 3 });
    const result = await runStep(env, activities, { step: 'retry', args: ['/bin/true'] });
    expect(result.exitCode).toBe(0);
    expect(result.previousAttempt).toBeUndefined();
    for (const id of earlier) expect(await runtime.exists(id)).toBe(false);
    expect((await Promise.all(runs)).map((run) => run.exitCode)).toEqual([143, 143]);
  });

  it('reports a previous attempt on another host so the workflow can route cleanup there', async () => {
    const activities = await testActivities();
    const env = mockEnvironment({
      attempt: 2,
      heartbeatDetails: { containerId: 'trs-elsewhere-a1', host: 'other', hostQueue: 'q-other' },
    });
    const result = await runStep(env, activities, { step: 'moved', args: ['/bin/true'] });
    expect(result.previousAttempt).toEqual({
      containerId: 'trs-elsewhere-a1',
      host: 'other',
      hostQueue: 'q-other',
      outcome: 'other-host',
    });
  });

  it('returns the small result file a step writes', async () => {
    const activities = await testActivities();
    const result = await runStep(mockEnvironment(), activities, {
      step: 'build',
      args: ['/bin/sh', '-c', 'echo \'{"version":"1.2.3"}\' > /out/result.json'],
    });
    expect(result.result).toEqual({ version: '1.2.3' });
  });

  it('fails with a retryable ContainerExit carrying the result, or a final one for a non-retryable code', async () => {
    const activities = await testActivities();
    const retryable = await runStep(mockEnvironment(), activities, {
      step: 'flaky',
      args: ['/bin/sh', '-c', 'exit 1'],
    }).catch((e: unknown) => e);
    expect(retryable).toBeInstanceOf(ApplicationFailure);
    expect(retryable).toMatchObject({ type: 'ContainerExit', nonRetryable: false });
    expect((retryable as ApplicationFailure).details?.[0]).toMatchObject({ exitCode: 1, step: 'flaky' });

    const final = await runStep(mockEnvironment(), activities, {
      step: 'broken',
      args: ['/bin/sh', '-c', 'exit 3'],
      nonRetryableExitCodes: [3],
    }).catch((e: unknown) => e);
    expect(final).toMatchObject({ type: 'ContainerExit', nonRetryable: true });
  });

  it('returns a failing exit untouched with failOn: never, and accepts declared success codes', async () => {
    const activities = await testActivities();
    const untouched = await runStep(mockEnvironment(), activities, {
      step: 'lenient',
      args: ['/bin/sh', '-c', 'exit 5'],
      failOn: 'never' as const,
    });
    expect(untouched.exitCode).toBe(5);
    const declared = await runStep(mockEnvironment(), activities, {
      step: 'grep',
      args: ['/bin/sh', '-c', 'exit 1'],
      exitCodes: [0, 1],
    });
    expect(declared.exitCode).toBe(1);
  });

  it('refuses invalid input with a non-retryable InvalidStep naming the field', async () => {
    const activities = await testActivities();
    const error = await runStep(mockEnvironment(), activities, {
      step: 'bad',
      args: [],
      limits: { memoryBytes: -5 },
    } as never).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
    expect((error as Error).message).toMatch(/args: must name at least the program/);
    expect((error as Error).message).toMatch(/limits\.memoryBytes: must be greater than 0/);
  });

  it('checks limits.pids against the floor of the platform it runs on, before starting anything', async () => {
    const activities = await testActivities();
    // Between the two floors: enough under systrap (measured 24, floor 64), not under ptrace
    // (measured 48, floor 128). Each build runs on its own default platform.
    const input = { step: 'pids', args: ['/bin/sh', '-c', 'sleep 0.1 & wait'], limits: { pids: 100 } };
    const platform = inject('runtimePlatform');
    if (platform === 'systrap') {
      expect((await runStep(mockEnvironment(), activities, input)).exitCode).toBe(0);
    } else {
      const error = await runStep(mockEnvironment(), activities, input).catch((e: unknown) => e);
      expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
      expect((error as Error).message).toMatch(
        new RegExp(`limits\\.pids: must be at least 128 on runsc's ${platform} platform \\(100 given\\)`),
      );
      expect(await runtime.list()).toEqual([]);
    }
  });

  it('refuses a program the rootfs lacks as InvalidStep, not retried, before anything runs', async () => {
    // runsc's own refusal (exit 128) was a retryable RuntimeError: no retry could fix it.
    const activities = await testActivities();
    const error = await runStep(mockEnvironment(), activities, {
      step: 'missing',
      args: ['/bin/not-there'],
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
    expect((error as Error).message).toMatch(
      /args\[0\]: \/bin\/not-there does not exist in the root filesystem/,
    );
    expect(await runtime.list()).toEqual([]);
  });
});

async function waitUntilRunning(id: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await runtime.state(id).catch(() => undefined))?.status !== 'running') {
    if (Date.now() > deadline) throw new Error(`${id} never ran`);
    await sleep(25);
  }
}
