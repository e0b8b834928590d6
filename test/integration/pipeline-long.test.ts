/**
 * A pipeline of any length: 300 chatty steps (20 KB on stdout and on stderr each, which ended the
 * landed code at 130 steps: a 2 MB result is past Temporal's payload limit) complete, with every
 * step's record, its tails bounded; the workflow continued as new on its way, its status query
 * answering across runs, and the results of steps from earlier runs still reach later steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelineResult, pipelineStatus, startPipeline } from '../../src/client/index.js';
import type { PipelineInput, StepSpec } from '../../workflows/types.js';
import { startTestCluster, type TestCluster } from '../support/worker.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

const kb20 = (char: string, stream = '') => `head -c 20480 /dev/zero | tr '\\0' ${char}${stream}`;

describe('a long pipeline of chatty steps', () => {
  it('completes 300 steps with every record, continuing as new on the way', async () => {
    const steps: StepSpec[] = Array.from({ length: 300 }, (_, i) => ({
      name: `s${String(i).padStart(3, '0')}`,
      group: `g${Math.floor(i / 10)}`,
      args: ['/bin/sh', '-c', `${kb20('a')}; ${kb20('b', ' >&2')}`],
    }));
    // The first step writes a result the last one reads: it crosses every continue-as-new.
    steps[0] = {
      name: 's000',
      args: ['/bin/sh', '-c', `echo '{"v":"first"}' > /out/result.json; ${kb20('a')}; ${kb20('b', ' >&2')}`],
    };
    steps[299] = { name: 's299', args: ['/bin/echo', 'got ${steps.s000.result.v}'] };
    const input: PipelineInput = {
      name: 'long-chatty',
      steps,
      finally: [{ name: 'done', args: ['/bin/true'] }],
    };
    const handle = await startPipeline(cluster.client, input, { taskQueue: cluster.taskQueue });

    // The status query answers in whichever run the pipeline is, and says what earlier runs did.
    let sawEarlier = false;
    for (;;) {
      const status = await pipelineStatus(handle).catch(() => undefined);
      if (status?.earlier && status.earlier.steps > 0) sawEarlier = true;
      if (sawEarlier || (await handle.describe()).status.name !== 'RUNNING') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const result = await pipelineResult(handle);

    expect(result.status).toBe('completed');
    expect(result.steps.map((s) => s.name)).toEqual([...steps.map((s) => s.name), 'done']);
    expect(result.steps.every((s) => s.status === 'succeeded')).toBe(true);
    expect(result.earlier).toBeUndefined();
    expect(result.unlisted).toBeUndefined();
    const chatty = result.steps.slice(1, 299);
    // The activity keeps the last 8 KiB of each stream: so does the record, in every run.
    expect(chatty.every((s) => s.stdoutTail === 'a'.repeat(8192) && s.stderrTail === 'b'.repeat(8192))).toBe(
      true,
    );
    expect(new Set(result.steps.map((s) => s.containerId)).size).toBe(301);
    expect(result.steps[0]?.result).toEqual({ v: 'first' });
    expect(result.steps[299]?.stdoutTail).toBe('got first\n');

    // It took several runs, and the status query of the last answers with what the others did.
    expect(sawEarlier).toBe(true);
    const last = await pipelineStatus(handle);
    expect(last.status).toBe('completed');
    expect(last.earlier?.runs).toBeGreaterThan(1);
    expect((last.earlier?.steps ?? 0) + last.steps.filter((s) => !s.finally).length).toBe(300);
  }, 900_000);
});
