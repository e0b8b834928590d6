import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { StepAbortRequested, StepAborts } from '../../src/host/step-aborts.js';

const key = StepAborts.key({ workflowId: 'wf', runId: 'run', step: 'build' });

describe('StepAborts', () => {
  it('aborts a registered step and says it was running', () => {
    const aborts = new StepAborts();
    const { signal } = aborts.register(key);
    expect(aborts.abort(key)).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(StepAbortRequested);
  });

  it('keys steps by workflow run and name: another run or step is left alone', () => {
    const aborts = new StepAborts();
    const { signal } = aborts.register(key);
    aborts.abort(StepAborts.key({ workflowId: 'wf', runId: 'run-2', step: 'build' }));
    aborts.abort(StepAborts.key({ workflowId: 'wf', runId: 'run', step: 'test' }));
    expect(signal.aborted).toBe(false);
  });

  it('aborts a step that registers after its request came', () => {
    const aborts = new StepAborts();
    expect(aborts.abort(key)).toBe(false);
    expect(aborts.register(key).signal.aborted).toBe(true);
  });

  it('forgets early requests after their time to live', async () => {
    const aborts = new StepAborts(5);
    aborts.abort(key);
    await sleep(20);
    // The next request is what prunes the old ones.
    aborts.abort(StepAborts.key({ workflowId: 'other', runId: 'run', step: 'x' }));
    expect(aborts.register(key).signal.aborted).toBe(false);
  });

  it('no longer reaches a step once it unregistered', () => {
    const aborts = new StepAborts();
    const first = aborts.register(key);
    first.unregister();
    expect(aborts.size).toBe(0);
    const second = aborts.register(key);
    first.unregister(); // a late unregister of the first must not drop the second
    expect(aborts.abort(key)).toBe(true);
    expect(second.signal.aborted).toBe(true);
    expect(first.signal.aborted).toBe(false);
  });
});
