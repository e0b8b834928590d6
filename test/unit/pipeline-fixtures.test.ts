import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { minimumPidsLimit } from '../../src/bundle/index.js';
import { PipelineError, type PipelineProblem, parsePipelineFile } from '../../src/pipeline/index.js';
import type { PipelineInput } from '../../workflows/types.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/pipelines/${name}`, import.meta.url));

async function problemsOf(name: string): Promise<readonly PipelineProblem[]> {
  try {
    await parsePipelineFile(fixture(name));
  } catch (error) {
    if (error instanceof PipelineError) return error.problems;
    throw error;
  }
  throw new Error(`${name} was accepted`);
}

describe('good pipeline files', () => {
  it('reads defaults, a parallel group, references, retry and finally steps', async () => {
    const expected: PipelineInput = {
      name: 'release.v2',
      defaults: {
        rootfs: '/var/lib/temporal-runsc/rootfs',
        limits: { memoryBytes: 268435456, pids: 256 },
        retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
        timeout: '10m',
        heartbeatTimeout: '15s',
        env: { CI: 'true' },
      },
      steps: [
        {
          name: 'build',
          args: [
            '/bin/sh',
            '-c',
            'echo "{\\"version\\": \\"1.2.3\\", \\"files\\": [\\"a\\", \\"b\\"]}" > /out/result.json',
          ],
          cwd: '/src',
          user: { uid: 1000, gid: 1000 },
          // Mounts are read-only unless the file says otherwise.
          mounts: [{ source: '/srv/src', destination: '/src', readOnly: true }],
        },
        {
          name: 'test',
          group: 'checks',
          args: ['/bin/sh', '-c', 'test "$1" = 1.2.3', 'sh', '${steps.build.result.version}'],
          timeout: '500ms',
        },
        {
          name: 'lint',
          group: 'checks',
          args: ['/bin/echo', 'first file ${steps.build.result.files.0}, cost $$5'],
          exitCodes: [0, 1],
          continueOnError: true,
        },
        {
          name: 'publish',
          args: ['/bin/publish'],
          env: { VERSION: '${steps.build.result.version}', LINT_EXIT: '${steps.lint.exitCode}' },
          retry: { maximumAttempts: 5, nonRetryableExitCodes: [2], retryableExitCodes: [75] },
          rootfs: '/var/lib/temporal-runsc/publisher',
          limits: { cpus: 0.5 },
        },
      ],
      finally: [
        { name: 'report', args: ['/bin/echo', '${steps.publish.exitCode}'] },
        {
          name: 'cleanup',
          args: ['/bin/rm', '-rf', '/scratch'],
          cwd: '/',
          heartbeatTimeout: 60000,
          mounts: [{ source: '/srv/scratch', destination: '/scratch', readOnly: false }],
          env: { REPORTED: '${steps.report.exitCode}' },
        },
      ],
    };
    expect(await parsePipelineFile(fixture('good/release.yaml'))).toEqual(expected);
  });

  it('reads a minimal JSON file', async () => {
    expect(await parsePipelineFile(fixture('good/minimal.json'))).toEqual({
      name: 'hello',
      steps: [{ name: 'hi', args: ['/bin/echo', 'hi $HOME'] }],
    });
  });

  it('keeps shell variables and $$ escapes as written (the workflow resolves them)', async () => {
    const pipeline = await parsePipelineFile(fixture('good/shell-escapes.yml'));
    expect(pipeline.steps[0]?.args).toEqual(['/bin/sh', '-c', 'echo "$HOME" $${USER} $$$$']);
  });
});

describe('bad pipeline files', () => {
  // [file, field, line (undefined: nothing in the file to point at), part of the message]
  it.each<[string, string, number | undefined, string]>([
    // Syntax and overall shape
    ['empty.yaml', '(file)', undefined, 'is empty: a pipeline needs at least "name" and "steps"'],
    ['comments-only.yaml', '(file)', undefined, 'is empty'],
    ['yaml-syntax.yaml', '(file)', 5, 'is not valid YAML: Flow sequence'],
    ['yaml-duplicate-key.yaml', '(file)', 5, 'has a key twice in the same mapping: keep one'],
    ['json-duplicate-key.json', '(file)', 4, 'has a key twice in the same mapping'],
    ['yaml-two-documents.yaml', '(file)', 5, 'holds more than one YAML document'],
    ['json-syntax.json', '(file)', 5, "is not valid JSON: Expected ',' or ']' after array element"],
    ['json-unexpected-token.json', '(file)', 4, "is not valid JSON: Unexpected token '}'"],
    [
      'top-level-list.yaml',
      '(root)',
      1,
      'must be a mapping of name, steps and optionally defaults and finally, not a list',
    ],
    ['top-level-scalar.yaml', '(root)', 1, 'must be a mapping of name, steps'],
    ['missing-steps.yaml', 'steps', 2, 'is required: give the steps to run'],
    ['no-steps.yaml', 'steps', 2, 'must list at least one step'],
    ['step-not-a-mapping.yaml', 'steps[0]', 3, 'must be a mapping of step settings: at least name and args'],
    // Unknown keys, at several levels
    ['unknown-key-top.yaml', '(root)', 2, 'unknown key "description": remove it or check the spelling'],
    ['unknown-key-defaults.yaml', 'defaults', 3, 'unknown key "runtime"'],
    ['unknown-key-limits.yaml', 'defaults.limits', 4, 'unknown key "memory"'],
    ['unknown-key-step.yaml', 'steps[0]', 5, 'unknown key "memory"'],
    ['unknown-key-retry.yaml', 'steps[0].retry', 6, 'unknown key "attempts"'],
    // Names
    ['bad-pipeline-name.yaml', 'name', 1, 'must be 1-64 letters, digits'],
    ['bad-step-name.yaml', 'steps[0].name', 3, 'must be 1-63 lower-case letters'],
    [
      'duplicate-names.yaml',
      'steps[1].name',
      5,
      '"build" is already the name of steps[0]: give each step its own name',
    ],
    ['duplicate-name-in-finally.yaml', 'finally[0].name', 6, '"build" is already the name of steps[0]'],
    // Step fields
    [
      'args-not-a-list.yaml',
      'steps[0].args',
      4,
      'must be a list of strings, e.g. ["/bin/sh", "-c", "echo hi"]',
    ],
    ['empty-args.yaml', 'steps[0].args', 4, 'must name at least the program to run'],
    ['missing-args.yaml', 'steps[0].args', 3, 'is required: give the command as a list'],
    ['env-value-number.yaml', 'steps[0].env.PORT', 6, 'must be a string: quote numbers and booleans'],
    ['env-bad-name.yaml', 'steps[0].env.BAD-NAME', 6, 'must be an environment name'],
    [
      'relative-cwd.yaml',
      'steps[0].cwd',
      5,
      'must be an absolute path (the working directory inside the container)',
    ],
    ['negative-uid.yaml', 'steps[0].user.uid', 5, 'must be a user id: a whole number, 0 or more'],
    ['continue-on-error-yes.yaml', 'steps[0].continueOnError', 5, 'must be true or false'],
    ['exit-code-300.yaml', 'steps[0].exitCodes[1]', 5, 'must be an exit code: a whole number from 0 to 255'],
    ['exit-codes-empty.yaml', 'steps[0].exitCodes', 5, 'must list at least one exit code'],
    // Paths are refused, never resolved
    ['relative-rootfs.yaml', 'defaults.rootfs', 3, 'must be an absolute path (the root filesystem folder'],
    ['rootfs-dotdot.yaml', 'steps[0].rootfs', 5, 'must not contain ".."'],
    [
      'relative-mount.yaml',
      'steps[0].mounts[0].source',
      6,
      'must be an absolute path (the host path to mount)',
    ],
    // Limits
    ['negative-memory.yaml', 'steps[0].limits.memoryBytes', 6, 'must be greater than 0'],
    ['pids-below-minimum.yaml', 'defaults.limits.pids', 4, `must be at least ${minimumPidsLimit}`],
    // Durations and retry
    [
      'duration-words.yaml',
      'steps[0].timeout',
      5,
      'must be a duration like "30s" or "5m", or a number of milliseconds',
    ],
    ['duration-zero.yaml', 'steps[0].heartbeatTimeout', 5, 'must be longer than zero'],
    ['duration-negative.json', 'steps[0].timeout', 7, 'must be longer than zero'],
    [
      'retry-zero-attempts.yaml',
      'steps[0].retry.maximumAttempts',
      6,
      'must be 1 or more: the first attempt counts',
    ],
    ['retry-backoff-half.yaml', 'defaults.retry.backoffCoefficient', 4, 'must be 1 or more'],
    [
      'retry-maximum-below-initial.yaml',
      'steps[0].retry.maximumInterval',
      7,
      'must be at least initialInterval',
    ],
    [
      'retry-merged-with-defaults.yaml',
      'steps[0].retry.initialInterval',
      9,
      'longer than maximumInterval in defaults.retry',
    ],
    [
      'retry-code-in-both-lists.yaml',
      'steps[0].retry.retryableExitCodes',
      7,
      'names exit code 3, also in nonRetryableExitCodes',
    ],
    // Groups
    [
      'group-not-adjacent.yaml',
      'steps[2].group',
      9,
      'steps of group "checks" must be listed next to each other',
    ],
    ['group-in-finally.yaml', 'finally[0].group', 7, 'is not allowed in finally'],
    // References
    ['ref-unknown-step.yaml', 'steps[0].args[1]', 4, 'refers to step "nope", which does not exist'],
    [
      'ref-later-step.yaml',
      'steps[2].args[1]',
      8,
      'refers to step "deploy", which runs later: a step can only use results of steps before it',
    ],
    ['ref-main-to-finally.yaml', 'steps[0].args[1]', 4, 'refers to step "cleanup", which runs later'],
    ['ref-later-finally.yaml', 'finally[0].args[1]', 7, 'refers to step "cleanup", which runs later'],
    ['ref-same-group.yaml', 'steps[2].env.TESTED', 12, 'refers to step "test" of the same group "checks"'],
    ['ref-self.yaml', 'steps[0].cwd', 5, 'refers to its own step "a"'],
    ['ref-empty-name.yaml', 'steps[0].args[1]', 4, 'has a malformed reference at character 3'],
    ['ref-not-a-step.yaml', 'steps[0].args[2]', 4, 'has a malformed reference at character 6'],
    ['ref-path-after-exit-code.yaml', 'steps[1].args[1]', 6, 'has a malformed reference'],
    ['ref-unterminated.yaml', 'steps[1].args[1]', 6, 'has "${" without a closing "}"'],
    ['ref-in-defaults-env.yaml', 'defaults.env.VERSION', 4, 'must not refer to steps'],
  ])('bad/%s: %s (line %s) %s', async (name, field, line, message) => {
    const problems = await problemsOf(`bad/${name}`);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.field).toBe(field);
    expect(problems[0]?.line).toBe(line);
    expect(problems[0]?.message).toContain(message);
  });
});
