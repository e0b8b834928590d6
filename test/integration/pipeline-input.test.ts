/**
 * Input the pipeline cannot run, from any client: it fails the workflow at once, non-retryable,
 * naming each bad field (never a workflow task failing for ever); a step whose own spec cannot
 * start (no such program, no such working folder) fails non-retryable (`InvalidStep`), once,
 * naming the field, and nothing is created in the rootfs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pipelineResult, startPipeline } from '../../src/client/index.js';
import type { PipelineInput } from '../../workflows/types.js';
import { startTestCluster, type TestCluster } from '../support/worker.js';

const temporalCli = join(homedir(), '.cache/temporal-runsc/bin/temporal-v1.5.1');
let cluster: TestCluster;
let tools: string;

beforeAll(async () => {
  tools = join(inject('workDir'), `tools-${randomBytes(4).toString('hex')}`);
  await mkdir(tools, { recursive: true });
  cluster = await startTestCluster({ policy: { mounts: { readOnly: [tools] } } });
});

afterAll(async () => {
  await cluster?.stop();
});

/** Starts sandboxPipeline with `input` as it is (no client-side check) and waits for its failure. */
async function failureOf(input: unknown) {
  const handle = await cluster.client.workflow.start('sandboxPipeline', {
    taskQueue: cluster.taskQueue,
    workflowId: `raw-input-${randomBytes(4).toString('hex')}`,
    args: [input],
  });
  const error = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const failure = (error as WorkflowFailedError).cause;
  expect(failure).toBeInstanceOf(ApplicationFailure);
  const events = (await handle.fetchHistory()).events ?? [];
  return { failure: failure as ApplicationFailure, events };
}

describe('a pipeline input that cannot run', () => {
  it.each([
    ['no steps', '{"name":"x"}', /steps: is required/],
    [
      'args as a string',
      '{"name":"x","steps":[{"name":"a","args":"/bin/true"}]}',
      /steps\[0\]\.args: must be a list/,
    ],
  ])('fails at once from the temporal CLI (%s), naming the field', async (_what, input, message) => {
    const workflowId = `cli-input-${randomBytes(4).toString('hex')}`;
    const address = ['--address', inject('temporalAddress')];
    await execa(temporalCli, [
      'workflow',
      'start',
      ...address,
      '--task-queue',
      cluster.taskQueue,
      '--type',
      'sandboxPipeline',
      '--workflow-id',
      workflowId,
      '--input',
      input,
    ]);
    const result = await execa(temporalCli, ['workflow', 'result', ...address, '--workflow-id', workflowId], {
      reject: false,
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(output).toMatch(/Status\s+FAILED/);
    expect(output).toMatch(message);
    const handle = cluster.client.workflow.getHandle(workflowId);
    const failure = await handle.result().catch((error: WorkflowFailedError) => error.cause);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe('InvalidPipeline');
    expect((failure as ApplicationFailure).nonRetryable).toBe(true);
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    expect(events.at(-1)?.workflowExecutionFailedEventAttributes).toBeTruthy();
    expect(events.some((event) => event.workflowTaskFailedEventAttributes)).toBe(false);
  });

  it('names every bad field of a raw input, and runs no step', async () => {
    const { failure, events } = await failureOf({
      name: 'x',
      steps: [
        { name: 'a', args: '/bin/true' },
        { name: 'b', args: ['relative/bin'] },
        { name: 'c', args: ['/bin/true'], colour: 'red' },
      ],
    });
    expect(failure.type).toBe('InvalidPipeline');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('steps[0].args: must be a list of strings');
    expect(failure.message).toContain('steps[1].args[0]: "relative/bin" is a relative path');
    expect(failure.message).toContain('steps[2]: unknown key "colour"');
    expect(events.at(-1)?.workflowExecutionFailedEventAttributes).toBeTruthy();
    expect(
      events.some(
        (event) => event.activityTaskScheduledEventAttributes || event.workflowTaskFailedEventAttributes,
      ),
    ).toBe(false);
  });

  it('comes back from pipelineResult as a failed pipeline that says why', async () => {
    const handle = await startPipeline(cluster.client, { name: 'x', steps: [] } as PipelineInput, {
      taskQueue: cluster.taskQueue,
    });
    const result = await pipelineResult(handle);
    expect(result.status).toBe('failed');
    expect(result.steps).toEqual([]);
    expect(result.error).toContain('steps: must list at least one step');
  });
});

describe('a step that cannot start because of its own spec', () => {
  async function stepOf(step: PipelineInput['steps'][number]) {
    const handle = await startPipeline(
      cluster.client,
      { name: 'cannot-start', steps: [{ ...step, retry: { maximumAttempts: 3, initialInterval: '100ms' } }] },
      { taskQueue: cluster.taskQueue },
    );
    const result = await pipelineResult(handle);
    const events = (await handle.fetchHistory()).events ?? [];
    const attempts = events.filter((event) => event.activityTaskStartedEventAttributes).length;
    return { result, report: result.steps[0], attempts };
  }

  it.each([
    [
      'a program the rootfs lacks',
      { args: ['/no/such/program'] },
      /args\[0\]: \/no\/such\/program does not exist/,
    ],
    [
      'a bare name not in PATH',
      { args: ['no-such-program'] },
      /args\[0\]: "no-such-program" is not in any folder of PATH/,
    ],
    ['a folder as the program', { args: ['/bin'] }, /args\[0\]: \/bin is a folder/],
    [
      'a working folder the rootfs lacks',
      { args: ['/bin/true'], cwd: '/no-such-cwd/deeper' },
      /cwd: \/no-such-cwd\/deeper does not exist/,
    ],
  ])('%s fails InvalidStep once, naming the field', async (_what, spec, message) => {
    const { result, report, attempts } = await stepOf({ name: 'bad', ...spec });
    expect(result.status).toBe('failed');
    expect(report?.status).toBe('failed');
    expect(report?.error).toMatch(/^invalid step:/);
    expect(report?.error).toMatch(message);
    expect(attempts).toBe(1);
    // The 2022 runsc made a missing working folder in the shared rootfs (on the host, as root).
    expect(existsSync(join(inject('rootfs'), 'no-such-cwd'))).toBe(false);
  });

  it('a missing program under a mount fails InvalidStep once, from runsc’s own refusal', async () => {
    const { report, attempts } = await stepOf({
      name: 'bad',
      args: ['/tools/missing'],
      mounts: [{ source: tools, destination: '/tools' }],
    });
    expect(report?.status).toBe('failed');
    expect(report?.error).toMatch(
      /args\[0\]: runsc cannot start \/tools\/missing: no such file or directory/,
    );
    expect(attempts).toBe(1);
  });

  it('a program found through PATH and a cwd that exists still run', async () => {
    const { report } = await stepOf({ name: 'good', args: ['pwd'], cwd: '/etc' });
    expect(report?.status).toBe('succeeded');
    expect(report?.stdoutTail).toBe('/etc\n');
  });
});
