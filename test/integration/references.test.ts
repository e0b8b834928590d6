/**
 * A step's result in a later step is data, end to end (issue 11, case 4): a result holding shell
 * syntax, used in a later step's `sh -c` script, reaches it as one word and runs nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelineResult, startPipeline } from '../../src/client/index.js';
import type { PipelineInput, PipelineResult } from '../../workflows/types.js';
import { startTestCluster, type TestCluster } from '../support/worker.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

async function runToEnd(input: PipelineInput): Promise<PipelineResult> {
  const handle = await startPipeline(cluster.client, input, { taskQueue: cluster.taskQueue });
  return pipelineResult(handle);
}

const writeHostileResult = {
  name: 'a',
  args: ['/bin/sh', '-c', `echo '{"v":"1; echo INJECTED","dir":"tmp/../etc"}' > /out/result.json`],
};

describe('a result used in a later step', () => {
  it('reaches a shell script as one word, and runs nothing', async () => {
    const result = await runToEnd({
      name: 'injection',
      steps: [
        writeHostileResult,
        { name: 'b', args: ['/bin/sh', '-c', 'echo got ${steps.a.result.v}'] },
        { name: 'c', args: ['/bin/sh', '-c', 'echo "got $V"'], env: { V: '${steps.a.result.v}' } },
      ],
    });
    expect(result.status).toBe('completed');
    const [, b, c] = result.steps;
    expect(b?.stdoutTail).toBe('got 1; echo INJECTED\n');
    expect(c?.stdoutTail).toBe('got 1; echo INJECTED\n');
    for (const step of result.steps) expect(step.stdoutTail.split('\n')).not.toContain('INJECTED');
  });

  it('is refused where it would be code: the pipeline fails at start and starts nothing', async () => {
    // startPipeline does not run the validator: the workflow refuses it on its own, at start.
    const result = await runToEnd({
      name: 'refused',
      steps: [
        writeHostileResult,
        { name: 'code', args: ['/bin/sh', '-c', 'echo "got ${steps.a.result.v}"'] },
      ],
    });
    expect(result).toMatchObject({ status: 'failed', steps: [] });
    expect(result.error).toContain('steps[1].args[2]');
    expect(result.error).toContain('inside "..." quotes in the sh script');
  });

  it('makes a working folder the activity refuses when it holds ".."', async () => {
    const result = await runToEnd({
      name: 'cwd-from-result',
      steps: [writeHostileResult, { name: 'cwd', args: ['/bin/pwd'], cwd: '/${steps.a.result.dir}' }],
    });
    const [, cwd] = result.steps;
    // A cwd from a result is kept as written, and the activity refuses one with "..".
    expect(cwd).toMatchObject({ status: 'failed', stdoutTail: '' });
    expect(cwd?.error).toContain('cwd: must not contain ".."');
  });
});
