/**
 * Watching steps: following a running step's output through Temporal, reading a finished one's
 * whole output (more than its tails), clear errors when a log is gone or its host is down, and
 * the worker's metrics endpoint.
 */
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cancelPipeline, pipelineResult, pipelineStatus, startPipeline } from '../../src/client/index.js';
import { type StepLogEntry, StepLogError, type StepLogOptions, stepLog } from '../../src/client/logs.js';
import type { PipelineInput } from '../../workflows/types.js';
import {
  startTestCluster,
  type TestCluster,
  testWorkerCliSettings,
  testWorkflowBundle,
} from '../support/worker.js';
import { repoRoot, startWorkerCli } from '../support/worker-cli.js';

let cluster: TestCluster;
const caps = { headBytes: 256 * 1024, tailBytes: 256 * 1024 };

beforeAll(async () => {
  cluster = await startTestCluster({ logCaps: caps });
});

afterAll(async () => {
  await cluster?.stop();
});

function start(input: PipelineInput, target: TestCluster = cluster): Promise<WorkflowHandle> {
  return startPipeline(target.client, input, { taskQueue: target.taskQueue });
}

async function collect(handle: WorkflowHandle, step: string, options: StepLogOptions = {}) {
  const entries: StepLogEntry[] = [];
  for await (const entry of stepLog(handle, step, options)) entries.push(entry);
  return entries;
}

function lines(entries: StepLogEntry[]): string[] {
  return entries.flatMap((e) => (e.type === 'output' ? [`${e.stream}:${e.text}`] : []));
}

describe('following a step', () => {
  it('shows a running step’s lines before it ends, and its later lines as they come', async () => {
    // Prints a line every 0.3 s for ever: it ends only when the pipeline is cancelled.
    const handle = await start({
      name: 'follow',
      steps: [
        {
          name: 'ticker',
          args: [
            '/bin/sh',
            '-c',
            'echo started; i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.3; done',
          ],
        },
      ],
    });
    const seen: { text: string; latencyMs: number }[] = [];
    let runningWhenSeen: boolean[] = [];
    for await (const entry of stepLog(handle, 'ticker', { follow: true })) {
      if (entry.type !== 'output') continue;
      seen.push({ text: entry.text, latencyMs: Date.now() - Date.parse(entry.time) });
      if (seen.length === 3)
        runningWhenSeen = (await pipelineStatus(handle)).steps.map((s) => s.status === 'running');
      if (seen.length >= 20) break;
    }
    expect(seen.map((s) => s.text)).toEqual([
      'started',
      ...Array.from({ length: 19 }, (_, i) => `tick ${i + 1}`),
    ]);
    // The lines were seen while the step still ran (it only ends when cancelled): followed live.
    expect(runningWhenSeen).toEqual([true]);
    const later = seen.slice(3).map((s) => s.latencyMs);
    console.log(
      `follow latency (worker received the line -> the follower yields it), ms: ${JSON.stringify(later)}`,
    );
    await cancelPipeline(handle);
    expect((await pipelineResult(handle)).status).toBe('cancelled');
  });

  it('follows a step from before it starts, through its retry, to its end', async () => {
    const handle = await start({
      name: 'retry',
      steps: [
        { name: 'first', args: ['/bin/sh', '-c', 'sleep 1'] },
        {
          name: 'flaky',
          retry: { maximumAttempts: 2, initialInterval: '100ms' },
          // Quick: its first attempt may end, and the retry begin, between two looks of the
          // follower, which still reads both.
          args: ['/bin/sh', '-c', 'echo try; echo oops >&2; exit 3'],
        },
      ],
    });
    const entries = await collect(handle, 'flaky', { follow: true, streams: 'all' });
    expect(entries.filter((e) => e.type === 'attempt').map((e) => e.type === 'attempt' && e.attempt)).toEqual(
      [1, 2],
    );
    expect(lines(entries)).toEqual(['stdout:try', 'stderr:oops', 'stdout:try', 'stderr:oops']);
    expect((await pipelineResult(handle)).status).toBe('failed');
  });
});

describe('reading a finished step', () => {
  it('reads its whole output, far more than the tails, each stream alone or both in order', async () => {
    const handle = await start({
      name: 'whole',
      steps: [{ name: 'chatty', args: ['/bin/sh', '-c', 'seq 1 5000; echo to-err >&2; echo done'] }],
    });
    const result = await pipelineResult(handle);
    expect(result.status).toBe('completed');
    // The result keeps 8 KiB; the log all of it.
    expect(result.steps[0]?.stdoutTail.length).toBeLessThanOrEqual(8192);
    const stdout = lines(await collect(handle, 'chatty'));
    expect(stdout).toEqual([...Array.from({ length: 5000 }, (_, i) => `stdout:${i + 1}`), 'stdout:done']);
    expect(lines(await collect(handle, 'chatty', { streams: 'stderr' }))).toEqual(['stderr:to-err']);
    const all = lines(await collect(handle, 'chatty', { streams: 'all' }));
    // Both streams, each in its order (between the two, the order the worker read its pipes in).
    expect(all.filter((l) => l.startsWith('stdout:'))).toEqual(stdout);
    expect(all.filter((l) => l.startsWith('stderr:'))).toEqual(['stderr:to-err']);
  });

  it('keeps the head and the tail of a flood, and says how much was dropped between', async () => {
    const handle = await start({
      name: 'flood',
      steps: [{ name: 'flood', args: ['/bin/seq', '1', '200000'] }],
    });
    await pipelineResult(handle);
    const entries = await collect(handle, 'flood');
    const dropped = entries.filter((e) => e.type === 'dropped');
    expect(dropped).toHaveLength(1);
    const numbers = lines(entries).map((l) => Number(l.slice('stdout:'.length)));
    expect(numbers[0]).toBe(1);
    expect(numbers.at(-1)).toBe(200000);
    // Ascending, with one gap where the caps dropped output.
    expect(numbers.filter((n, i) => i > 0 && n !== (numbers[i - 1] as number) + 1)).toHaveLength(1);
  });

  it('says a log is gone when its host no longer has it', async () => {
    const handle = await start({ name: 'gone', steps: [{ name: 'short', args: ['/bin/echo', 'hi'] }] });
    const result = await pipelineResult(handle);
    await unlink(
      join(inject('workDir'), 'workers', cluster.taskQueue, 'logs', `${result.steps[0]?.containerId}.log`),
    );
    const error = await collect(handle, 'short').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepLogError);
    expect(error).toMatchObject({ reason: 'gone' });
    expect((error as Error).message).toMatch(/is gone from host test-host .*retention/);
  });

  it('says a step’s host does not answer when its worker is down', async () => {
    const first = await startTestCluster({ hostQueue: `trs-down-${Date.now()}@down` });
    const handle = await start(
      { name: 'down', steps: [{ name: 'hello', args: ['/bin/echo', 'hi'] }] },
      first,
    );
    await pipelineResult(handle);
    await first.stop();
    // Another worker serves the pipeline's queue (the read's workflow runs), not that host.
    const other = await startTestCluster({
      taskQueue: first.taskQueue,
      hostQueue: `${first.taskQueue}@other`,
    });
    try {
      const again = other.client.workflow.getHandle(handle.workflowId);
      const error = await collect(again, 'hello').catch((e: unknown) => e);
      expect(error).toMatchObject({ reason: 'unreachable' });
      expect((error as Error).message).toMatch(/does not answer: its worker is stopped/);
    } finally {
      await other.stop();
    }
  });

  it('`temporal-runsc logs` prints a finished step’s output, and refuses an unknown step', async () => {
    const handle = await start({
      name: 'cli',
      steps: [{ name: 'greet', args: ['/bin/sh', '-c', 'echo hello; echo warn >&2'] }],
    });
    await pipelineResult(handle);
    const cli = (args: string[]) =>
      execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'logs', handle.workflowId, ...args], {
        cwd: repoRoot,
        reject: false,
        env: { TEMPORAL_ADDRESS: inject('temporalAddress') },
      });
    const out = await cli(['greet']);
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toBe('hello');
    expect((await cli(['greet', '--stderr'])).stdout).toBe('warn');
    const unknown = await cli(['nope']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/has run no step named nope \(steps so far: greet\)/);
  });
});

describe('the metrics endpoint', () => {
  it('serves the SDK’s metrics and temporal_runsc_*, whose counts move during a pipeline', async () => {
    const port = await freePort();
    const unguarded = testWorkerCliSettings('metrics', {
      workflowBundlePath: await testWorkflowBundle(),
      metricsAddress: `127.0.0.1:${port}`,
    });
    // `wait` runs until the test has scraped it running.
    const gate = `${unguarded.workDir}-gate`;
    await mkdir(gate, { recursive: true });
    const settings = { ...unguarded, allowMountRw: [gate] };
    const worker = await startWorkerCli(settings, { what: 'the metrics worker' });
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    try {
      const handle = await startPipeline(
        cluster.client,
        {
          name: 'metrics',
          steps: [
            { name: 'ok', args: ['/bin/true'] },
            {
              name: 'wait',
              args: ['/bin/sh', '-c', 'while [ ! -e /gate/go ]; do sleep 0.1; done'],
              mounts: [{ source: gate, destination: '/gate' }],
            },
            { name: 'bad', args: ['/bin/sh', '-c', 'exit 4'], retry: { maximumAttempts: 1 } },
          ],
        },
        { taskQueue: settings.taskQueue },
      );
      // While `wait` runs: one container, one step succeeded so far.
      let during = '';
      const deadline = Date.now() + 45_000;
      while (Date.now() < deadline) {
        during = await scrape();
        if (
          value(during, 'temporal_runsc_containers_running') === 1 &&
          value(during, 'temporal_runsc_steps_ended_total', 'outcome="succeeded"') === 1
        )
          break;
        await sleep(50);
      }
      await writeFile(join(gate, 'go'), '');
      expect(value(during, 'temporal_runsc_containers_running')).toBe(1);
      expect(value(during, 'temporal_runsc_steps_ended_total', 'outcome="succeeded"')).toBe(1);
      expect(await pipelineResult(handle)).toMatchObject({ status: 'failed' });
      let after = '';
      for (let i = 0; i < 100; i++) {
        after = await scrape();
        if (value(after, 'temporal_runsc_steps_ended_total', 'outcome="exit_code_failure"') === 1) break;
        await sleep(100);
      }
      expect(value(after, 'temporal_runsc_steps_started_total')).toBe(3);
      expect(value(after, 'temporal_runsc_steps_ended_total', 'outcome="succeeded"')).toBe(2);
      expect(value(after, 'temporal_runsc_steps_ended_total', 'outcome="exit_code_failure"')).toBe(1);
      expect(value(after, 'temporal_runsc_containers_running')).toBe(0);
      expect(value(after, 'temporal_runsc_step_duration_seconds_count', 'outcome="succeeded"')).toBe(2);
      expect(value(after, 'temporal_runsc_step_start_latency_seconds_count')).toBe(3);
      expect(after).toMatch(/^temporal_runsc_runtime_call_duration_seconds_count\{.*command="list"/m);
      // The SDK's own, on the same endpoint.
      expect(after).toMatch(/^temporal_activity_execution_latency/m);
      expect(after).toMatch(/^temporal_workflow_completed|^temporal_workflow_failed/m);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });
});

describe('tracing', () => {
  it('gives the worker’s interceptors every activity of its three workers, as a tracer needs', async () => {
    // What @temporalio/interceptors-opentelemetry's activity interceptor sees: each execution.
    const seen: string[] = [];
    const traced = await startTestCluster({
      interceptors: {
        activity: [
          (context) => ({
            inbound: {
              execute: (input, next) => {
                seen.push(context.info.activityType);
                return next(input);
              },
            },
          }),
        ],
      },
    });
    try {
      const handle = await start(
        { name: 'traced', steps: [{ name: 'hello', args: ['/bin/echo', 'hi'] }] },
        traced,
      );
      expect((await pipelineResult(handle)).status).toBe('completed');
      expect(lines(await collect(handle, 'hello'))).toEqual(['stdout:hi']);
      // The step (host worker), the host pick (shared worker) and the log read (control worker).
      expect(seen).toEqual(expect.arrayContaining(['hostQueue', 'runContainer', 'readLog']));
    } finally {
      await traced.stop();
    }
  });
});

/** A metric's value in Prometheus text: the sample whose labels contain `labels` (or any). */
function value(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^(\S+?)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name || !(match[2] ?? '').includes(labels)) continue;
    return Number(match[3]);
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}
