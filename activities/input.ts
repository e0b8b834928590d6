import { z } from 'zod';
import { checkRootAndCommand, containerSpecShape, mapping } from '../src/spec/container.js';
import { parseOrThrow } from '../src/validation.js';

const exitCodes = (what: string) =>
  z.array(z.number().int().min(0).max(255), { error: `must be a list of exit codes (0-255): ${what}` });

/**
 * The activity's input, checked before anything runs: the step's container spec (the one schema
 * of src/spec, as the pipeline and the workflow check it) and what the activity adds. Imports
 * only zod and plain modules: workflow code takes its types from here.
 */
export const runContainerInputSchema = mapping(
  {
    step: z.string({ error: 'must be the step name' }).min(1, { error: 'must not be empty: name the step' }),
    ...containerSpecShape,
    tmpfsBytes: z.number().int().positive().optional(),
    graceMs: z.number().int().nonnegative({ error: 'must be 0 or more milliseconds' }).optional(),
    exitCodes: exitCodes('the codes that count as success, e.g. [0, 2]').optional(),
    failOn: z.enum(['nonzero', 'never'], { error: 'must be "nonzero" or "never"' }).optional(),
    nonRetryableExitCodes: exitCodes('codes that no retry can fix').optional(),
    retryableExitCodes: exitCodes('the only failing codes worth retrying').optional(),
  },
  'container activity input: at least step and args (or an image)',
).superRefine((input, ctx) => checkRootAndCommand(input, ctx));

/** What a workflow passes to runContainer (mount `readOnly` may be left out). */
export type RunContainerInputShape = z.input<typeof runContainerInputSchema>;

export function parseRunContainerInput(input: unknown): z.output<typeof runContainerInputSchema> {
  return parseOrThrow(runContainerInputSchema, input, 'step');
}
