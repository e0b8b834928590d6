/**
 * What a workflow may ask of a host's queue: the host-queue activities (kill, delete, state,
 * cleanup) take container ids and options from workflow input, which anyone who can start a
 * workflow writes. They act only on containers this library made here, and cleanup takes
 * only the options a workflow may decide; the rest (root, wipe, prefix) is the operator's.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ownerAnnotation, ownerOfBundle } from '../host/owner.js';
import { containerIdPrefix, validateContainerId } from '../runtime/container-id.js';
import { ContainerNotFound } from '../runtime/errors.js';
import type { Runsc } from '../runtime/runsc.js';
import type { ContainerState } from '../runtime/types.js';
import { parseOrThrow, ValidationError } from '../validation.js';

/**
 * The bundle annotation that says which workflow's step a container runs: any workflow of the
 * namespace may call a host queue's activities, and only the workflow that ran a step may kill,
 * delete or look at its container. Not a `dev.gvisor.*` key: runsc reads none of ours.
 */
export const workflowAnnotation = 'dev.temporal-runsc.workflow';

/** The workflow a container belongs to, and the caller of a host-queue activity. */
export interface WorkflowOfRun {
  namespace: string;
  workflowId: string;
}

/** The annotation's value for a step of this workflow (run-container.ts writes it). */
export function workflowAnnotationValue(run: WorkflowOfRun): string {
  return JSON.stringify({ namespace: run.namespace, workflowId: run.workflowId });
}

/**
 * Throws a ValidationError unless the id is ours: our prefix, and (when it exists) our owner
 * annotation of this host and the workflow annotation of the calling workflow.
 */
export async function checkOwnContainer(
  runtime: Runsc,
  id: unknown,
  host: string,
  caller: WorkflowOfRun | undefined,
): Promise<string> {
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
  const annotations = await annotationsOf(state);
  const raw = annotations[ownerAnnotation];
  const owner = raw ? safeJson(raw) : await ownerOfBundle(state.bundle);
  if (!owner || typeof owner !== 'object' || (owner as { host?: unknown }).host !== host) {
    throw new ValidationError('request', [
      {
        field: 'containerId',
        message: `${containerId} has no owner annotation of this host (${host}): it is not this library's container here, and is left alone`,
      },
    ]);
  }
  const workflow = safeJson(annotations[workflowAnnotation] ?? '') as Partial<WorkflowOfRun> | undefined;
  if (
    !caller ||
    !workflow ||
    typeof workflow !== 'object' ||
    workflow.namespace !== caller.namespace ||
    workflow.workflowId !== caller.workflowId
  ) {
    const who = caller
      ? `workflow ${caller.workflowId} of namespace ${caller.namespace}`
      : 'a caller outside a workflow';
    throw new ValidationError('request', [
      {
        field: 'containerId',
        message: `${containerId} runs a step of another workflow, not of ${who}: a workflow acts only on its own steps' containers`,
      },
    ]);
  }
  return containerId;
}

/** The annotations runsc reports, else those of the bundle's config (the 2022 build lists none). */
async function annotationsOf(state: ContainerState): Promise<Record<string, string>> {
  if (state.annotations && Object.keys(state.annotations).length > 0) return state.annotations;
  try {
    const config = JSON.parse(await readFile(join(state.bundle, 'config.json'), 'utf8')) as {
      annotations?: unknown;
    };
    const found = config.annotations;
    return found && typeof found === 'object' ? (found as Record<string, string>) : {};
  } catch {
    return {};
  }
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
