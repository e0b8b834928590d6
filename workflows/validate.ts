/**
 * Input checks inside workflow code, with the one step schema (src/spec): a malformed input from
 * any client (the `temporal` CLI, another SDK, startPipeline without the file parser) fails the
 * workflow at once with a non-retryable ApplicationFailure that names each bad field. Thrown from
 * workflow code, anything else (a TypeError on `input.steps`) would fail the workflow task, which
 * the server retries for ever.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { z } from 'zod';
import { pipelineRuleProblems } from '../src/pipeline/rules.js';
import { type ContainerSpec, containerSpecSchema, mapping } from '../src/spec/container.js';
import { type PipelineFile, pipelineSchema, type StepSpec, stepSchema } from '../src/spec/step.js';
import { type FieldProblem, fieldPath, problemsFromZod, ValidationError } from '../src/validation.js';
import type { PipelineRunState } from './types.js';

/** Type of the failure for a whole pipeline input that cannot run. */
export const invalidPipelineType = 'InvalidPipeline';
/** Type of the failure for a step whose own spec cannot run (the activity's type too). */
export const invalidStepType = 'InvalidStep';

function failure(type: string, error: ValidationError): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message: error.message,
    details: [error.problems],
    nonRetryable: true,
  });
}

function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  prefix: string,
  type: string,
) {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw failure(type, new ValidationError(what, problemsFromZod(parsed.error, prefix)));
  return parsed.data as z.output<S>;
}

/**
 * The pipeline input, checked field by field and across steps (unique names, groups, references),
 * as the file parser checks a file; throws `InvalidPipeline` listing every problem.
 */
export function parsePipelineInput(value: unknown): PipelineFile {
  const parsed = pipelineSchema.safeParse(value);
  const problems: FieldProblem[] = parsed.success ? [] : problemsFromZod(parsed.error);
  for (const { path, message } of pipelineRuleProblems(value)) {
    problems.push({ field: fieldPath(path), message });
  }
  if (!parsed.success || problems.length > 0) {
    throw failure(invalidPipelineType, new ValidationError('pipeline input', problems));
  }
  return parsed.data;
}

/**
 * One step (a container spec with name, timeouts, retry, exit codes...), checked with the step
 * schema; throws a non-retryable `InvalidStep` naming each bad field (under `field`, e.g.
 * `steps[2]`). For workflow code that runs steps of its own.
 */
export function parseStepSpec(value: unknown, field = ''): z.output<typeof stepSchema> {
  return parseWith(stepSchema, value, field ? `step ${field}` : 'step', field, invalidStepType);
}

/**
 * What runs in a container alone (args, env, cwd, user, mounts, limits, rootfs, network,
 * secrets), checked with the container schema; throws a non-retryable `InvalidStep` naming each
 * bad field. Unknown fields are refused: pass only the container's.
 */
export function checkContainerSpec(value: unknown, field = ''): z.output<typeof containerSpecSchema> {
  return parseWith(containerSpecSchema, value, 'container spec', field, invalidStepType);
}

export type { ContainerSpec, StepSpec };

const stepStatuses = ['pending', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'] as const;

/** What a run hands the next (PipelineRunState); only this workflow writes it, but any client could. */
const runStateSchema = mapping(
  {
    offset: z.number().int().nonnegative().optional(),
    runs: z.number().int().nonnegative().optional(),
    records: z.array(z.looseObject({ name: z.string(), status: z.enum(stepStatuses) })).optional(),
    counts: z.partialRecord(z.enum(stepStatuses), z.number().int().nonnegative()).optional(),
    outcomes: z
      .record(z.string(), z.looseObject({ exitCode: z.number().int().nullable(), result: z.unknown() }))
      .optional(),
    asData: z.boolean().optional(),
    recordBudgetBytes: z.number().int().positive().optional(),
  },
  'offset, runs, records, counts, outcomes, asData and recordBudgetBytes',
);

/** The run state (second argument of sandboxPipeline); throws `InvalidPipeline` naming fields. */
export function parseRunState(value: unknown): PipelineRunState {
  if (value === undefined || value === null) return {};
  return parseWith(
    runStateSchema,
    value,
    'pipeline run state',
    'state',
    invalidPipelineType,
  ) as PipelineRunState;
}
