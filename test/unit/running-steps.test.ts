import { describe, expect, it } from 'vitest';
import { withRunningContainers } from '../../src/client/running-steps.js';
import { emptyReport } from '../../workflows/pipeline-records.js';
import type { PipelineStatusSnapshot, StepReport } from '../../workflows/types.js';

const report = (name: string, status: StepReport['status'], attempts = 0): StepReport => ({
  ...emptyReport(name, false),
  status,
  attempts,
});

const snapshot = (steps: StepReport[]): PipelineStatusSnapshot => ({
  workflowId: 'wf',
  name: 'p',
  status: 'running',
  steps,
});

describe('running containers in the status', () => {
  it("fills a running step's container, pid, host and attempt from its heartbeat", () => {
    const merged = withRunningContainers(snapshot([report('build', 'running', 1)]), [
      { step: 'build', containerId: 'trs-x-a2', pid: 4242, host: 'worker-1', attempt: 2 },
    ]);
    expect(merged.steps[0]).toMatchObject({
      containerId: 'trs-x-a2',
      pid: 4242,
      host: 'worker-1',
      attempts: 2,
    });
  });

  it('leaves steps that are not running as the workflow reported them', () => {
    const done = { ...report('build', 'succeeded', 1), exitCode: 0, containerId: 'trs-x-a1' };
    const merged = withRunningContainers(snapshot([done, report('test', 'pending')]), [
      { step: 'build', containerId: 'trs-x-a9', pid: 1, host: 'h', attempt: 9 },
      { step: 'test', containerId: 'trs-y-a1', pid: 2, host: 'h', attempt: 1 },
    ]);
    expect(merged.steps).toEqual([done, report('test', 'pending')]);
  });

  it('never lowers the attempt count the workflow already knows', () => {
    const merged = withRunningContainers(snapshot([report('build', 'running', 3)]), [
      { step: 'build', containerId: 'trs-x-a3', pid: null, host: 'h', attempt: 1 },
    ]);
    expect(merged.steps[0]?.attempts).toBe(3);
  });
});
