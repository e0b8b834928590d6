import { describe, expect, it } from 'vitest';
import { containerIdPrefix, makeContainerId, validateContainerId } from '../../src/runtime/container-id.js';

describe('container ids', () => {
  it.each(['a', 'job-1', 'A.b_c-9', 'x'.repeat(128)])('accepts %s', (id) => {
    expect(validateContainerId(id)).toBe(id);
  });

  it.each([
    ['', /non-empty/],
    ['-rf', /starting with a letter or digit/],
    ['a/b', /not a valid container id/],
    ['a..b', /not a valid container id/],
    ['has space', /not a valid container id/],
    ['.hidden', /not a valid container id/],
    ['x'.repeat(129), /not a valid container id/],
  ])('refuses %j', (id, message) => {
    expect(() => validateContainerId(id)).toThrow(message);
  });

  it('names the field in the error', () => {
    expect(() => validateContainerId('a/b', 'step.id')).toThrow(/^step\.id: /);
  });

  it('derives a valid, prefixed id per attempt from any workflow id', () => {
    const id = makeContainerId({ workflowId: 'build/../étape 1', activityId: '3', attempt: 2 });
    expect(id.startsWith(containerIdPrefix)).toBe(true);
    expect(validateContainerId(id)).toBe(id);
    expect(id).toContain('-a2-');
  });

  it('never gives two attempts or two workflows the same id', () => {
    const ids = new Set([
      makeContainerId({ workflowId: 'w', activityId: '1', attempt: 1 }),
      makeContainerId({ workflowId: 'w', activityId: '1', attempt: 2 }),
      makeContainerId({ workflowId: 'w', activityId: '2', attempt: 1 }),
      makeContainerId({ workflowId: 'w/x', activityId: '1', attempt: 1 }),
      makeContainerId({ workflowId: 'w_x', activityId: '1', attempt: 1 }),
    ]);
    expect(ids.size).toBe(5);
  });

  it('is the same for the same attempt (a retry of the activity task finds it again)', () => {
    const parts = { workflowId: 'w', activityId: '1', attempt: 1 };
    expect(makeContainerId(parts)).toBe(makeContainerId(parts));
  });
});
