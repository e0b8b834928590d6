import { z } from 'zod';
import { limitsSchema, mountSchema, networkSchema, secretsSchema } from '../src/bundle/spec.js';
import { imageReferenceSchema } from '../src/image/schema.js';
import { parseOrThrow, ValidationError } from '../src/validation.js';
import type { RunContainerInput } from './types.js';

const exitCodes = (what: string) =>
  z.array(z.number().int().min(0).max(255), { error: `must be a list of exit codes (0-255): ${what}` });

/** The activity's input, checked before anything runs. Bundle fields are checked by createBundle. */
export const runContainerInputSchema = z.strictObject({
  step: z.string({ error: 'must be the step name' }).min(1, { error: 'must not be empty: name the step' }),
  // Optional only with an image (its Entrypoint and Cmd run): checked once the image is known.
  args: z
    .array(z.string())
    .min(1, { error: 'must name at least the program to run, e.g. ["/bin/true"]' })
    .optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  user: z
    .strictObject({ uid: z.number().int().nonnegative(), gid: z.number().int().nonnegative() })
    .optional(),
  mounts: z.array(mountSchema).optional(),
  limits: limitsSchema.optional(),
  tmpfsBytes: z.number().int().positive().optional(),
  rootfs: z.string().optional(),
  image: imageReferenceSchema.optional(),
  network: networkSchema.optional(),
  secrets: secretsSchema.optional(),
  graceMs: z.number().int().nonnegative({ error: 'must be 0 or more milliseconds' }).optional(),
  exitCodes: exitCodes('the codes that count as success, e.g. [0, 2]').optional(),
  failOn: z.enum(['nonzero', 'never'], { error: 'must be "nonzero" or "never"' }).optional(),
  nonRetryableExitCodes: exitCodes('codes that no retry can fix').optional(),
  retryableExitCodes: exitCodes('the only failing codes worth retrying').optional(),
});

export function parseRunContainerInput(input: unknown): RunContainerInput {
  const parsed = parseOrThrow(runContainerInputSchema, input, 'step') as RunContainerInput;
  if (parsed.args === undefined && parsed.image === undefined) {
    throw new ValidationError('step', [
      {
        field: 'args',
        message: 'is required: give the command, e.g. ["/bin/sh", "-c", "echo hi"], or name an image',
      },
    ]);
  }
  if (parsed.image !== undefined && parsed.rootfs !== undefined) {
    throw new ValidationError('step', [{ field: 'image', message: 'give image or rootfs, not both' }]);
  }
  return parsed;
}
