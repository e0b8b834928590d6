/**
 * A step's image, between admission and the bundle: resolve the reference to a digest (the
 * previous attempt's when it resolved one: a retry runs what the first attempt ran), hold the
 * unpacked image from the host's cache, and apply its config under the step's own fields, with
 * the image's User checked by the policy like a step's. Heartbeats go on while an image is
 * fetched, and the first carries the digest, so even an attempt that fails at once leaves it
 * for its retry.
 */
import { ApplicationFailure, type Context } from '@temporalio/activity';
import { ImageError, type ImageUse } from '../src/image/cache.js';
import { applyImageDefaults } from '../src/image/config.js';
import type { Admitted } from '../src/policy/admit.js';
import { ValidationError } from '../src/validation.js';
import type { ActivityDeps } from './deps.js';
import type { ImageRecordOfRun, RunContainerInput, RunHeartbeat } from './types.js';

export interface PreparedStep {
  input: RunContainerInput & { args: string[] };
  admitted: Admitted;
  /** Held until the sandbox is gone: release it then. */
  use?: ImageUse;
  record?: ImageRecordOfRun;
}

export async function prepareStepRoot(
  deps: ActivityDeps,
  context: Context,
  input: RunContainerInput,
  admitted: Admitted,
  heartbeat: Omit<RunHeartbeat, 'image'>,
  intervalMs: number,
): Promise<PreparedStep> {
  if (!admitted.image) {
    if (!input.args) throw missingArgs();
    return { input: { ...input, args: input.args }, admitted };
  }
  const { ref, localPath } = admitted.image;
  if (!deps.images) {
    throw new ValidationError('step', [
      { field: 'image', message: 'this worker has no image cache: ask the operator' },
    ]);
  }
  const previous = context.info.heartbeatDetails as RunHeartbeat | undefined;
  const details: RunHeartbeat = { ...heartbeat };
  const timer = setInterval(() => context.heartbeat({ ...details }), intervalMs);
  const signal = context.cancellationSignal;
  let use: ImageUse;
  try {
    const earlier = previous?.image?.reference === input.image ? previous?.image?.digest : undefined;
    const digest = earlier ?? (await deps.images.resolve(ref, { localPath, signal }));
    details.image = { reference: ref.text, digest };
    // Recorded at once: an attempt that fails before its first tick still leaves the digest.
    if (!(ref.kind === 'registry' && ref.digest)) context.heartbeat({ ...details });
    use = await deps.images.use(ref, digest, { localPath, signal });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw imageFailure(input.step, error);
  } finally {
    clearInterval(timer);
  }
  try {
    const applied = applyImageDefaults(input, use.config);
    if (!input.user && applied.user) {
      const problems = deps.policy.userProblems(applied.user, 'image.config.User');
      if (problems.length > 0) throw new ValidationError('step', problems);
    }
    return {
      input: { ...input, args: applied.args, ...(applied.cwd ? { cwd: applied.cwd } : {}) },
      admitted: {
        ...admitted,
        bundle: {
          ...admitted.bundle,
          rootfs: use.rootfs,
          // The image's Env under the step's (and its secrets).
          env: { ...applied.env, ...admitted.bundle.env },
          user: input.user ?? applied.user ?? admitted.bundle.user,
        },
      },
      use,
      record: { reference: use.reference, digest: use.digest },
    };
  } catch (error) {
    await use.release();
    throw error;
  }
}

function missingArgs(): ValidationError {
  return new ValidationError('step', [
    {
      field: 'args',
      message: 'is required: give the command, e.g. ["/bin/sh", "-c", "echo hi"], or name an image',
    },
  ]);
}

/** Registry down: retried. A wrong reference, a refused login, a huge or broken image: not. */
function imageFailure(step: string, error: unknown): unknown {
  if (!(error instanceof ImageError)) return error;
  return ApplicationFailure.create({
    type: error.retryable ? 'ImageUnavailable' : 'InvalidImage',
    message: `${step}: ${error.message}`,
    details: [{ stderr: error.stderr.slice(-2000) }],
    nonRetryable: !error.retryable,
  });
}
