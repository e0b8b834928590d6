/**
 * The one step schema as workflow code applies it (workflows/validate.ts): every bad field named,
 * as a non-retryable ApplicationFailure, never a plain throw (which would fail the workflow task
 * for ever); and the bounds on what a pipeline's records put into Temporal payloads.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { parseRunContainerInput } from '../../activities/input.js';
import { parsePipeline } from '../../src/pipeline/index.js';
import { emptyReport, fitRecords, jsonBytes, tailOf, utf8Bytes } from '../../workflows/pipeline-records.js';
import type { StepReport } from '../../workflows/types.js';
import {
  checkContainerSpec,
  parsePipelineInput,
  parseRunState,
  parseStepSpec,
} from '../../workflows/validate.js';

function failureOf(run: () => unknown): ApplicationFailure {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApplicationFailure);
    return error as ApplicationFailure;
  }
  throw new Error('accepted');
}

describe('the workflow’s input check', () => {
  it.each([
    ['no steps', { name: 'x' }, 'steps: is required'],
    [
      'args as a string',
      { name: 'x', steps: [{ name: 'a', args: '/bin/true' }] },
      'steps[0].args: must be a list',
    ],
    ['not an object', 'x', '(root): must be a mapping'],
    [
      'a relative program',
      { name: 'x', steps: [{ name: 'a', args: ['bin/run'] }] },
      'steps[0].args[0]: "bin/run" is a relative path',
    ],
    [
      'two steps of one name',
      {
        name: 'x',
        steps: [
          { name: 'a', args: ['/bin/true'] },
          { name: 'a', args: ['/bin/true'] },
        ],
      },
      'steps[1].name: "a" is already the name of steps[0]',
    ],
    [
      'a reference in code',
      {
        name: 'x',
        steps: [
          { name: 'a', args: ['/bin/true'] },
          { name: 'b', args: ['python3', '-c', '${steps.a.result}'] },
        ],
      },
      'steps[1].args[2]',
    ],
  ])('refuses %s, naming the field, non-retryable', (_what, input, field) => {
    const failure = failureOf(() => parsePipelineInput(input));
    expect(failure.type).toBe('InvalidPipeline');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain(field);
  });

  it('lists every bad field at once', () => {
    const failure = failureOf(() =>
      parsePipelineInput({
        name: 'x y',
        steps: [
          { name: 'a', args: [] },
          { name: 'b', args: ['/x'], cwd: 'rel' },
        ],
      }),
    );
    expect(failure.message).toContain('name: must be 1-64 letters');
    expect(failure.message).toContain('steps[0].args: must name at least the program');
    expect(failure.message).toContain('steps[1].cwd: must be an absolute path');
  });

  it('takes what the file parser takes, the same way', () => {
    const text =
      'name: ok\nsteps:\n  - name: a\n    args: [sh, -c, "echo hi"]\n    mounts: [{ source: /srv, destination: /srv }]\n';
    expect(parsePipelineInput(parsePipeline(text))).toEqual(parsePipeline(text));
  });

  it('checks one step for other workflow code: InvalidStep, fields under the given prefix', () => {
    const failure = failureOf(() =>
      parseStepSpec({ name: 'a', args: ['./run'], timeout: 'soon' }, 'steps[2]'),
    );
    expect(failure.type).toBe('InvalidStep');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('steps[2].args[0]: "./run" is a relative path');
    expect(failure.message).toContain('steps[2].timeout: must be a duration');
    expect(parseStepSpec({ name: 'a', args: ['/bin/true'] })).toEqual({ name: 'a', args: ['/bin/true'] });
  });

  it('checks a container spec alone, refusing step settings in it', () => {
    const failure = failureOf(() =>
      checkContainerSpec({ args: ['/bin/true'], group: 'g', env: { '1X': 'v' } }),
    );
    expect(failure.type).toBe('InvalidStep');
    expect(failure.message).toContain('(root): unknown key "group"');
    expect(failure.message).toContain('env.1X: must be an environment name');
    expect(checkContainerSpec({ args: ['true'], mounts: [{ source: '/a', destination: '/b' }] })).toEqual({
      args: ['true'],
      mounts: [{ source: '/a', destination: '/b', readOnly: true }],
    });
  });

  it('checks the run state a client could forge', () => {
    expect(parseRunState(undefined)).toEqual({});
    const failure = failureOf(() => parseRunState({ offset: -1, extra: 1 }));
    expect(failure.type).toBe('InvalidPipeline');
    expect(failure.message).toContain('state.offset');
    expect(failure.message).toContain('unknown key "extra"');
  });

  it('gives the activity the same container rules', () => {
    expect(() => parseRunContainerInput({ step: 's', args: ['rel/bin'] })).toThrow(
      /args\[0\]: "rel\/bin" is a relative path/,
    );
    expect(() => parseRunContainerInput({ step: 's', args: ['/bin/true'], cwd: '/a/../b' })).toThrow(
      /cwd: must not contain "\.\."/,
    );
  });
});

describe('what a record puts into a payload', () => {
  const record = (name: string, tail: number): StepReport => ({
    ...emptyReport(name, false),
    status: 'succeeded',
    stdoutTail: 'a'.repeat(tail),
    stderrTail: 'b'.repeat(tail),
    result: { big: 'r'.repeat(tail) },
  });

  it('keeps a tail to its last characters, not splitting a pair', () => {
    expect(tailOf('abcdef', 3)).toBe('def');
    expect(tailOf('a😀b', 2)).toBe('b');
    expect(utf8Bytes('é😀a')).toBe(2 + 4 + 1);
  });

  it('leaves records that fit as they are, and cuts the oldest first until they fit', () => {
    const small = [record('a', 10), record('b', 10)];
    expect(fitRecords(small, 10_000)).toEqual(small);
    const big = Array.from({ length: 40 }, (_, i) => record(`s${i}`, 8192));
    const fitted = fitRecords(big, 400_000);
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(400_000);
    expect(fitted[0]?.truncated).toBe(true);
    expect(fitted[0]?.stdoutTail.length).toBeLessThanOrEqual(512);
    expect(fitted.at(-1)?.truncated).toBeUndefined();
    const tiny = fitRecords(big, 20_000);
    expect(jsonBytes(tiny)).toBeLessThanOrEqual(20_000);
    expect(tiny[0]).toMatchObject({ stdoutTail: '', stderrTail: '', truncated: true });
    expect(tiny[0]?.result).toBeUndefined();
  });
});
