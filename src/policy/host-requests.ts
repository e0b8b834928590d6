/**
 * What a workflow may ask of a host's queue: the host-queue activities (kill, delete, state,
 * cleanup) take container ids and options from workflow input, which anyone who can start a
 * workflow writes. They act only on containers this library made here, and cleanup takes
 * only the options a workflow may decide; the rest (root, wipe, prefix) is the operator's.
 */
import { z } from 'zod';
import { ownerAnnotation, ownerOfBundle } from '../host/owner.js';
import { containerIdPrefix, validateContainerId } from '../runtime/container-id.js';
import { ContainerNotFound } from '../runtime/errors.js';
import type { Runsc } from '../runtime/runsc.js';
import { parseOrThrow, ValidationError } from '../validation.js';

/** Throws a ValidationError unless the id is ours: our prefix, and (when it exists) our owner annotation. */
export async function checkOwnContainer(runtime: Runsc, id: unknown, host: string): Promise<string> {
  const containerId = validateContainerId(id);
  if (!containerId.startsWith(containerIdPrefix)) {
    throw new ValidationError('request', [
      {
        field: 'containerId',
        message: `${containerId} was not made by temporal-runsc (no ${containerIdPrefix} prefix): host activities act only on their own containers`,
      },
    ]);
  }
  const state = await runtime.state(containerId).catch((error: unknown) => {
    if (error instanceof ContainerNotFound) return undefined;
    throw error;
  });
  if (!state) return containerId; // gone: each activity answers that in its own way
  const raw = state.annotations?.[ownerAnnotation];
  const owner = raw ? safeJson(raw) : await ownerOfBundle(state.bundle);
  if (!owner || typeof owner !== 'object' || (owner as { host?: unknown }).host !== host) {
    throw new ValidationError('request', [
      {
        field: 'containerId',
        message: `${containerId} has no owner annotation of this host (${host}): it is not this library's container here, and is left alone`,
      },
    ]);
  }
  return containerId;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The cleanup options a workflow may pass (the janitor's); wipe, root and prefix are refused. */
export const cleanupRequestSchema = z.strictObject(
  {
    graceMs: z.number().int().min(0).max(60_000).optional(),
    listTimeoutMs: z.number().int().min(100).max(60_000).optional(),
    wipe: z
      .literal(false, {
        error: 'is the operator’s: run `temporal-runsc cleanup --wipe` on the host, not from a workflow',
      })
      .optional(),
  },
  { error: 'must be a mapping of graceMs and listTimeoutMs' },
);

export type CleanupRequest = z.output<typeof cleanupRequestSchema>;

export function parseCleanupRequest(input: unknown): CleanupRequest {
  return parseOrThrow(cleanupRequestSchema, input ?? {}, 'cleanupHost request');
}
