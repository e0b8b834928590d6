import { describe, expect, it } from 'vitest';
import {
  containerIdPrefix,
  makeContainerId,
  maxDerivedIdLength,
  validateContainerId,
} from '../../src/runtime/container-id.js';

const base = { namespace: 'default', workflowId: 'w', runId: 'r1', activityId: '1', attempt: 1 };

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
    const id = makeContainerId({ ...base, workflowId: 'build/../étape 1', activityId: '3', attempt: 2 });
    expect(id.startsWith(containerIdPrefix)).toBe(true);
    expect(validateContainerId(id)).toBe(id);
    expect(id).toContain('-a2-');
  });

  it('stays within 60 characters (current runsc fails past ~64: the control socket path)', () => {
    for (const workflowId of ['w', 'x'.repeat(60), 'y'.repeat(1000), `${'a'.repeat(41)}.${'b'.repeat(20)}`]) {
      for (const attempt of [1, 99, 123456]) {
        const id = makeContainerId({ ...base, workflowId, activityId: '12345', attempt });
        expect(id.length).toBeLessThanOrEqual(maxDerivedIdLength);
        expect(maxDerivedIdLength).toBeLessThanOrEqual(60);
        expect(validateContainerId(id)).toBe(id);
      }
    }
    // The readable part is kept where it fits.
    expect(makeContainerId({ ...base, workflowId: 'release-42' })).toMatch(
      /^trs-release-42-1-a1-[0-9a-f]{12}$/,
    );
  });

  it('never gives two attempts, workflows, runs or namespaces the same id', () => {
    const long = 'z'.repeat(200);
    const ids = new Set([
      makeContainerId(base),
      makeContainerId({ ...base, attempt: 2 }),
      makeContainerId({ ...base, activityId: '2' }),
      makeContainerId({ ...base, workflowId: 'w/x' }),
      makeContainerId({ ...base, workflowId: 'w_x' }),
      // Two runs of one workflow id, and one workflow id in two namespaces.
      makeContainerId({ ...base, runId: 'r2' }),
      makeContainerId({ ...base, namespace: 'staging' }),
      // Workflow ids that only differ past the cut.
      makeContainerId({ ...base, workflowId: `${long}1` }),
      makeContainerId({ ...base, workflowId: `${long}2` }),
    ]);
    expect(ids.size).toBe(9);
  });

  it('is the same for the same attempt (a retry of the activity task finds it again)', () => {
    expect(makeContainerId({ ...base })).toBe(makeContainerId({ ...base }));
  });
});
