/**
 * The shape of a pipeline: its steps (a container spec, src/spec/container.ts, plus how the step
 * runs: timeouts, retries, exit codes, group) and its defaults. The one schema for a pipeline:
 * the file parser (src/pipeline) and the workflow itself (workflows/validate.ts, for input from
 * any client) both validate with it. Rules that span several steps (unique names, groups,
 * references) live in src/pipeline/rules.ts, so that they run even when this schema fails.
 *
 * Bundled into workflow code: imports only zod and plain modules.
 */
import { z } from 'zod';
import { stepNamePattern } from '../../workflows/references.js';
import { imageReferenceSchema } from '../image/schema.js';
import {
  absolutePath,
  checkRootAndCommand,
  containerSpecShape,
  envSchema,
  limitsSchema,
  mapping,
  required,
} from './container.js';
import { durationMs } from './duration.js';

export const pipelineNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A duration as Temporal takes it: milliseconds, or a string like `30s`, `5m`, `1h`. */
export type DurationInput = string | number;

const wholeNumber = (what: string, missing = what) =>
  z.number({ error: required(missing, what) }).int({ error: `must be ${what}` });

const durationHint = 'a duration like "30s" or "5m", or a number of milliseconds';

export const durationSchema = z
  .union([z.number(), z.string()], { error: `must be ${durationHint}` })
  .superRefine((value, ctx) => {
    const ms = durationMs(value);
    if (ms === undefined) ctx.addIssue({ code: 'custom', message: `must be ${durationHint}` });
    else if (!(ms > 0))
      ctx.addIssue({ code: 'custom', message: `must be longer than zero: give ${durationHint}` });
  }) as z.ZodType<DurationInput, DurationInput>;

const exitCode = wholeNumber('an exit code: a whole number from 0 to 255')
  .min(0, { error: 'must be an exit code: a whole number from 0 to 255' })
  .max(255, { error: 'must be an exit code: a whole number from 0 to 255' });

export const exitCodesSchema = (example: string) =>
  z.array(exitCode, { error: `must be a list of exit codes (0-255), e.g. ${example}` });

export const retrySchema = mapping(
  {
    /** Attempts in all, the first included. 1 = no retry. Default 3. */
    maximumAttempts: wholeNumber('a whole number of attempts, 1 or more (1 = no retry)')
      .min(1, { error: 'must be 1 or more: the first attempt counts (1 = no retry)' })
      .optional(),
    initialInterval: durationSchema.optional(),
    backoffCoefficient: z
      .number({ error: 'must be a number, 1 or more, e.g. 2 to double the wait each time' })
      .min(1, { error: 'must be 1 or more: each wait is this many times the previous one, e.g. 2' })
      .optional(),
    maximumInterval: durationSchema.optional(),
    /** Exit codes that end the step at once, without retry. */
    nonRetryableExitCodes: exitCodesSchema('[2] for codes no retry can fix').optional(),
    /** When given, only these exit codes are retried. */
    retryableExitCodes: exitCodesSchema('[75] for the only codes worth retrying').optional(),
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
    ...containerSpecShape,
    /** startToClose timeout of one attempt. Default 10m. */
    timeout: durationSchema.optional(),
    /** How long the worker may go silent before the attempt counts as lost. Default 10s. */
    heartbeatTimeout: durationSchema.optional(),
    retry: retrySchema.optional(),
    /** Exit codes that count as success. Default [0]. */
    exitCodes: exitCodesSchema('[0, 2]')
      .min(1, { error: 'must list at least one exit code that counts as success, e.g. [0]' })
      .optional(),
    /** Steps that share a group run in parallel; groups and lone steps run in file order. */
    group: stepName('the group name').optional(),
    /** A failure of this step is recorded but does not stop the pipeline. */
    continueOnError: z.boolean({ error: 'must be true or false' }).optional(),
  },
  'step settings: at least name and args (or an image)',
);

const steps = (what: string) =>
  z.array(stepSchema, {
    error: required(
      `${what}: a list of steps, each with name and args`,
      `a list of steps, each with name and args`,
    ),
  });

export const pipelineDefaultsSchema = mapping(
  {
    rootfs: absolutePath('the root filesystem folder on the worker host').optional(),
    /** An image as every step's root filesystem (a step's own image or rootfs replaces it). */
    image: imageReferenceSchema.optional(),
    limits: limitsSchema.optional(),
    retry: retrySchema.optional(),
    timeout: durationSchema.optional(),
    heartbeatTimeout: durationSchema.optional(),
    /**
     * How long a step may wait for its host's worker to pick it up before the step moves to
     * another host (the host is taken for lost). Default 5m.
     */
    queueTimeout: durationSchema.optional(),
    env: envSchema.optional(),
  },
  'rootfs or image, limits, retry, timeout, heartbeatTimeout, queueTimeout and env',
).superRefine((defaults, ctx) => {
  if (defaults.image !== undefined && defaults.rootfs !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['image'], message: 'give image or rootfs, not both' });
  }
});

export const pipelineSchema = mapping(
  {
    name: z
      .string({ error: required('the pipeline name, e.g. "nightly-build"', 'a string: the pipeline name') })
      .regex(pipelineNamePattern, {
        error: 'must be 1-64 letters, digits, ".", "-" or "_", starting with a letter or digit',
      }),
    defaults: pipelineDefaultsSchema.optional(),
    steps: steps('the steps to run').min(1, { error: 'must list at least one step' }),
    /** Steps that always run at the end (after success, failure or cancellation). */
    finally: steps('the steps that always run at the end').optional(),
  },
  'name, steps and optionally defaults and finally',
).superRefine((pipeline, ctx) => {
  for (const list of ['steps', 'finally'] as const) {
    for (const [index, step] of (pipeline[list] ?? []).entries()) {
      checkRootAndCommand(step, ctx, [list, index], pipeline.defaults?.image);
    }
  }
});

export type RetrySpec = z.input<typeof retrySchema>;
export type StepSpec = z.input<typeof stepSchema>;
export type PipelineDefaults = z.input<typeof pipelineDefaultsSchema>;
/** What a client starts the workflow with (mount `readOnly` may be left out: it defaults to true). */
export type PipelineInput = z.input<typeof pipelineSchema>;
/** A pipeline as the schema gives it back (defaults filled in). */
export type PipelineFile = z.output<typeof pipelineSchema>;
