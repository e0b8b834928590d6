/**
 * The shape of a pipeline file, field by field. Rules that span several steps (unique names,
 * groups, references) live in rules.ts, so that they run even when this schema fails.
 */
import { z } from 'zod';
import { stepNamePattern } from '../../workflows/references.js';
import type { DurationInput } from '../../workflows/types.js';
import { limitsSchema, mountSchema, networkSchema, secretsSchema } from '../bundle/spec.js';
import { imageReferenceSchema } from '../image/schema.js';
import { durationMs } from './duration.js';

export const pipelineNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A mapping whose wrong-type message says what belongs in it. */
const mapping = <S extends z.core.$ZodLooseShape>(shape: S, what: string) =>
  z.strictObject(shape, {
    error: (issue) =>
      issue.code !== 'invalid_type'
        ? undefined
        : `must be a mapping of ${what}${Array.isArray(issue.input) ? ', not a list' : ''}`,
  });

/** Missing and wrong-type values get different advice. */
const required = (missing: string, wrong: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? `is required: give ${missing}` : `must be ${wrong}`;

const wholeNumber = (what: string, missing = what) =>
  z.number({ error: required(missing, what) }).int({ error: `must be ${what}` });

const absolutePath = (what: string) =>
  z
    .string({ error: `must be a string: ${what}` })
    .refine((path) => path.startsWith('/'), {
      error: `must be an absolute path (${what}), starting with "/"`,
    })
    .refine((path) => !path.split('/').includes('..'), {
      error: 'must not contain "..": write the path out',
    });

const durationHint = 'a duration like "30s" or "5m", or a number of milliseconds';

const duration = z
  .union([z.number(), z.string()], { error: `must be ${durationHint}` })
  .superRefine((value, ctx) => {
    const ms = durationMs(value);
    if (ms === undefined) ctx.addIssue({ code: 'custom', message: `must be ${durationHint}` });
    else if (!(ms > 0))
      ctx.addIssue({ code: 'custom', message: `must be longer than zero: give ${durationHint}` });
  }) as z.ZodType<DurationInput>;

const exitCode = wholeNumber('an exit code: a whole number from 0 to 255')
  .min(0, { error: 'must be an exit code: a whole number from 0 to 255' })
  .max(255, { error: 'must be an exit code: a whole number from 0 to 255' });

const exitCodes = (example: string) =>
  z.array(exitCode, { error: `must be a list of exit codes (0-255), e.g. ${example}` });

const env = z.record(
  z.string().regex(envNamePattern, {
    error: 'must be an environment name: letters, digits and _, not starting with a digit',
  }),
  // Never show the value: environment values are often secrets.
  z.string({ error: 'must be a string: quote numbers and booleans, e.g. "8080" or "true"' }),
  { error: 'must be a mapping of environment names to string values' },
);

export const retrySchema = mapping(
  {
    maximumAttempts: wholeNumber('a whole number of attempts, 1 or more (1 = no retry)')
      .min(1, { error: 'must be 1 or more: the first attempt counts (1 = no retry)' })
      .optional(),
    initialInterval: duration.optional(),
    backoffCoefficient: z
      .number({ error: 'must be a number, 1 or more, e.g. 2 to double the wait each time' })
      .min(1, { error: 'must be 1 or more: each wait is this many times the previous one, e.g. 2' })
      .optional(),
    maximumInterval: duration.optional(),
    nonRetryableExitCodes: exitCodes('[2] for codes no retry can fix').optional(),
    retryableExitCodes: exitCodes('[75] for the only codes worth retrying').optional(),
  },
  'retry settings (maximumAttempts, initialInterval, backoffCoefficient, ...)',
).superRefine((retry, ctx) => {
  const initial = durationMs(retry.initialInterval);
  const maximum = durationMs(retry.maximumInterval);
  if (initial !== undefined && maximum !== undefined && maximum < initial) {
    ctx.addIssue({
      code: 'custom',
      path: ['maximumInterval'],
      message: 'must be at least initialInterval: raise it or lower initialInterval',
    });
  }
  const final = new Set(retry.nonRetryableExitCodes ?? []);
  const both = [...new Set(retry.retryableExitCodes ?? [])].filter((code) => final.has(code));
  if (both.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['retryableExitCodes'],
      message: `names exit code${both.length > 1 ? 's' : ''} ${both.join(', ')}, also in nonRetryableExitCodes: list each code in only one of them`,
    });
  }
});

/** Step and group names: they appear in references, so they are kept to a plain alphabet. */
const stepName = (what: string) =>
  z.string({ error: required(`${what}, e.g. "build"`, `a string: ${what}`) }).regex(stepNamePattern, {
    error: 'must be 1-63 lower-case letters, digits, "-" or "_", starting with a letter or digit',
  });

export const stepSchema = mapping(
  {
    name: stepName('the step name'),
    args: z
      .array(z.string({ error: 'must be a string: quote numbers, e.g. "10"' }), {
        error: required(
          'the command as a list, e.g. ["/bin/sh", "-c", "echo hi"]',
          'a list of strings, e.g. ["/bin/sh", "-c", "echo hi"]',
        ),
      })
      .min(1, { error: 'must name at least the program to run, e.g. ["/bin/true"]' })
      // Optional only for a step with an image (its Entrypoint and Cmd): see pipelineSchema.
      .optional(),
    env: env.optional(),
    cwd: absolutePath('the working directory inside the container').optional(),
    user: mapping(
      {
        uid: wholeNumber('a user id: a whole number, 0 or more', 'the user id, e.g. 1000').nonnegative({
          error: 'must be a user id: a whole number, 0 or more',
        }),
        gid: wholeNumber('a group id: a whole number, 0 or more', 'the group id, e.g. 1000').nonnegative({
          error: 'must be a group id: a whole number, 0 or more',
        }),
      },
      'uid and gid',
    ).optional(),
    mounts: z
      .array(mountSchema, { error: 'must be a list of mounts, each with source and destination' })
      .optional(),
    limits: limitsSchema.optional(),
    rootfs: absolutePath('the root filesystem folder on the worker host').optional(),
    /** An OCI image as the root filesystem (instead of rootfs), as the worker's policy allows. */
    image: imageReferenceSchema.optional(),
    /** `none` by default; `sandbox` or `host` only where the worker's policy allows it. */
    network: networkSchema.optional(),
    /** Names of secrets the worker resolves from its own store (never values). */
    secrets: secretsSchema.optional(),
    timeout: duration.optional(),
    heartbeatTimeout: duration.optional(),
    retry: retrySchema.optional(),
    exitCodes: exitCodes('[0, 2]')
      .min(1, { error: 'must list at least one exit code that counts as success, e.g. [0]' })
      .optional(),
    group: stepName('the group name').optional(),
    continueOnError: z.boolean({ error: 'must be true or false' }).optional(),
  },
  'step settings: at least name and args',
);

const steps = (what: string) =>
  z.array(stepSchema, {
    error: required(
      `${what}: a list of steps, each with name and args`,
      `a list of steps, each with name and args`,
    ),
  });

export const pipelineSchema = mapping(
  {
    name: z
      .string({ error: required('the pipeline name, e.g. "nightly-build"', 'a string: the pipeline name') })
      .regex(pipelineNamePattern, {
        error: 'must be 1-64 letters, digits, ".", "-" or "_", starting with a letter or digit',
      }),
    defaults: mapping(
      {
        rootfs: absolutePath('the root filesystem folder on the worker host').optional(),
        image: imageReferenceSchema.optional(),
        limits: limitsSchema.optional(),
        retry: retrySchema.optional(),
        timeout: duration.optional(),
        heartbeatTimeout: duration.optional(),
        /** How long a step waits for its host's worker before moving to another host. */
        queueTimeout: duration.optional(),
        env: env.optional(),
      },
      'rootfs or image, limits, retry, timeout, heartbeatTimeout, queueTimeout and env',
    ).optional(),
    steps: steps('the steps to run').min(1, { error: 'must list at least one step' }),
    finally: steps('the steps that always run at the end').optional(),
  },
  'name, steps and optionally defaults and finally',
).superRefine((pipeline, ctx) => {
  const defaults = pipeline.defaults ?? {};
  if (defaults.image !== undefined && defaults.rootfs !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['defaults', 'image'], message: 'give image or rootfs, not both' });
  }
  for (const list of ['steps', 'finally'] as const) {
    for (const [index, step] of (pipeline[list] ?? []).entries()) {
      if (step.image !== undefined && step.rootfs !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [list, index, 'image'],
          message: 'give image or rootfs, not both',
        });
      }
      // A step's own rootfs replaces the defaults' image.
      const image = step.image ?? (step.rootfs === undefined ? defaults.image : undefined);
      if (step.args === undefined && image === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [list, index, 'args'],
          message:
            'is required: give the command as a list, e.g. ["/bin/sh", "-c", "echo hi"] (only a step with an image may leave it out)',
        });
      }
    }
  }
});

export type PipelineFile = z.output<typeof pipelineSchema>;
