/**
 * The activities from another SDK: examples/python/sandbox_step.py's workflow, run by a Python
 * worker and started (and cancelled) by a Python client (PyPI `temporalio`, in the venv that
 * scripts/setup.sh makes), calls hostQueue, runContainer and abortStep by name on a real
 * sandbox worker, real runsc and the suite's dev server. What a Python user relies on: the
 * result's JSON, a failing exit code as ContainerExit with the result in its details, bad input
 * as InvalidStep, and a cancelled workflow that leaves no container, process or workspace.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runningContainers } from '../../src/client/running-steps.js';
import { processesOfRoot } from '../../src/host/processes.js';
import { cacheDir } from '../../src/rootfs.js';
import { testRuntime } from '../support/runtime.js';
import { startTestCluster, type TestCluster } from '../support/worker.js';

const python = join(cacheDir(), 'python', 'venv', 'bin', 'python');
const driver = fileURLToPath(new URL('../support/python/sandbox_driver.py', import.meta.url));

type DriverEvent = { event: string } & Record<string, unknown>;

/** One Python process: a worker for the example's workflow and a client that starts it. */
class PythonDriver {
  private readonly events: DriverEvent[] = [];
  private readonly waiters: (() => void)[] = [];
  private stderr = '';
  private exited = false;
  readonly process: ChildProcess;

  constructor(args: string[]) {
    this.process = spawn(python, [driver, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.process.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    createInterface({ input: this.process.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      this.events.push(JSON.parse(line) as DriverEvent);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.process.on('exit', () => {
      this.exited = true;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** The first event named `name` (30 s at most). */
  async next(name: string, timeoutMs = 30_000): Promise<DriverEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => e.event === name);
      if (found) return found;
      if (this.exited || Date.now() > deadline) {
        throw new Error(`python driver: no ${name} event (${JSON.stringify(this.events)}): ${this.stderr}`);
      }
      await Promise.race([new Promise<void>((wake) => this.waiters.push(wake)), sleep(200)]);
    }
  }

  cancel(): void {
    this.process.stdin?.write('cancel\n');
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (!this.exited) this.process.kill('SIGKILL');
  }
}

let cluster: TestCluster;
const drivers: PythonDriver[] = [];

beforeAll(async () => {
  await access(python, constants.X_OK).catch(() => {
    throw new Error(`no Python SDK at ${python}: run scripts/setup.sh (it makes that venv)`);
  });
  cluster = await startTestCluster();
});
afterAll(async () => {
  await Promise.all(drivers.map((d) => d.stop()));
  await cluster?.stop();
});

function startPython(name: string, input: Record<string, unknown>, cancelOnStdin = false): PythonDriver {
  const id = `${name}-${Math.random().toString(36).slice(2, 8)}`;
  const d = new PythonDriver([
    '--address',
    inject('temporalAddress'),
    '--task-queue',
    `${cluster.taskQueue}-python`,
    '--workflow-id',
    id,
    '--input',
    JSON.stringify({ sharedQueue: cluster.taskQueue, ...input }),
    ...(cancelOnStdin ? ['--cancel-on-stdin'] : []),
  ]);
  drivers.push(d);
  return d;
}

/** The step's container as its heartbeat names it, once the runtime says it runs (20 s at most). */
async function runningContainerOf(workflowId: string): Promise<string> {
  const handle = cluster.client.workflow.getHandle(workflowId);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [container] = await runningContainers(handle).catch(() => []);
    if (
      container &&
      (
        await testRuntime()
          .state(container.containerId)
          .catch(() => undefined)
      )?.status === 'running'
    ) {
      return container.containerId;
    }
    if (Date.now() > deadline) throw new Error(`no running container for ${workflowId}`);
    await sleep(50);
  }
}

/**
 * When the runtime stopped finding the container (epoch ms), polled every 10 ms. A `state` that
 * fails otherwise (its state file going away under it, mid-delete) counts as still there.
 */
async function goneAt(containerId: string): Promise<number> {
  const runtime = testRuntime();
  const deadline = Date.now() + 30_000;
  while (await runtime.exists(containerId)) {
    if (Date.now() > deadline) throw new Error(`${containerId} still there 30 s after the cancel`);
    await sleep(10);
  }
  return Date.now();
}

/** Nothing of the container is left: not listed, no process of it, no workspace. */
async function expectNothingLeft(containerId: string): Promise<void> {
  const listed = (await testRuntime().list()).map((c) => c.id);
  expect(listed).not.toContain(containerId);
  const processes = await processesOfRoot(inject('runscRoot'));
  expect(processes.filter((p) => p.args.join(' ').includes(containerId))).toEqual([]);
  const workspace = join(inject('workDir'), 'workers', cluster.taskQueue, 'runs', containerId);
  await expect(access(workspace)).rejects.toThrow(/ENOENT/);
}

// TERM ends it at once, so the figures measure how fast the abort reaches the container.
const longStep = { step: 'long', args: ['/bin/sh', '-c', "trap 'exit 143' TERM; sleep 600 & wait"] };

describe('a Python workflow calling the sandbox activities', () => {
  it('runs a step and reads its exit code, output and result', async () => {
    const d = startPython('py-ok', {
      step: {
        step: 'hello',
        args: ['/bin/sh', '-c', 'echo hello from python; echo \'{"answer":42}\' > /out/result.json'],
      },
    });
    const done = await d.next('completed');
    const result = done.result as Record<string, unknown>;
    expect(result).toMatchObject({
      step: 'hello',
      exitCode: 0,
      signal: null,
      stdoutTail: 'hello from python\n',
      result: { answer: 42 },
      host: 'test-host',
      attempt: 1,
    });
    await expectNothingLeft(result.containerId as string);
  });

  it('sees a failing exit code as ContainerExit, with the result in its details', async () => {
    const d = startPython('py-exit', {
      step: { step: 'fails', args: ['/bin/sh', '-c', 'echo broken >&2; exit 3'], nonRetryableExitCodes: [3] },
    });
    const failed = await d.next('failed');
    expect(failed.cancelled).toBe(false);
    expect(failed.failure).toMatchObject({
      errorType: 'ContainerExit',
      message: 'fails exited with 3',
      nonRetryable: true,
      details: { step: 'fails', exitCode: 3, stderrTail: 'broken\n', attempt: 1 },
    });
  });

  it('sees bad input as InvalidStep, naming the field, and nothing runs', async () => {
    const d = startPython('py-invalid', { step: { step: 'bad', args: [] } });
    const failed = await d.next('failed');
    expect(failed.failure).toMatchObject({ errorType: 'InvalidStep', nonRetryable: true });
    expect((failed.failure as { message: string }).message).toMatch(/args/);
  });

  for (const [path, abortOnCancel] of [
    ['abortStep on the control queue', true],
    ['the heartbeat alone', false],
  ] as const) {
    it(`cancelling it removes the running container (${path}) and leaves nothing`, async () => {
      const d = startPython(
        `py-cancel-${abortOnCancel ? 'abort' : 'beat'}`,
        { step: longStep, abortOnCancel },
        true,
      );
      const { workflowId } = await d.next('started');
      const containerId = await runningContainerOf(workflowId as string);
      const gone = goneAt(containerId);
      d.cancel();
      const requested = (await d.next('cancelRequested')).at as number;
      const cancelToGoneMs = (await gone) - requested;
      const failed = await d.next('failed');
      expect(failed.cancelled).toBe(true);
      await expectNothingLeft(containerId);
      // The figure the issue asks for (not asserted: no timing assertions).
      console.log(`[python-sdk] cancel-to-gone through ${path}: ${Math.round(cancelToGoneMs)} ms`);
      // Only abortStep ends the step as StepAborted; the heartbeat path ends it cancelled.
      const history = await cluster.client.workflow.getHandle(workflowId as string).fetchHistory();
      const scheduled = (history.events ?? []).flatMap((e) =>
        e.activityTaskScheduledEventAttributes?.activityType?.name
          ? [e.activityTaskScheduledEventAttributes.activityType.name]
          : [],
      );
      expect(scheduled.includes('abortStep')).toBe(abortOnCancel);
    });
  }
});
