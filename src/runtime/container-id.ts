import { createHash } from 'node:crypto';
import { InvalidRuntimeInput } from './errors.js';

/**
 * What runsc, runc and crun all accept, and nothing that could escape the state directory:
 * starts with a letter or digit (never `-`, which a runtime would read as a flag), then letters,
 * digits, `_`, `.`, `-`; no `/`, no `..`, no spaces. 1 to 128 characters.
 */
const validId = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function validateContainerId(id: unknown, field = 'containerId'): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidRuntimeInput(field, 'must be a non-empty string');
  }
  if (!validId.test(id) || id.includes('..')) {
    throw new InvalidRuntimeInput(
      field,
      `${JSON.stringify(id)} is not a valid container id: use 1-128 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit, without ".."`,
    );
  }
  return id;
}

/** The prefix that marks containers this library created, so cleanup never touches others'. */
export const containerIdPrefix = 'trs-';

/**
 * One id per attempt, derived from who runs it: readable where the parts allow, made safe for
 * the runtime, and unique through a short hash of the exact parts (two workflow ids that only
 * differ in characters we replace still get different container ids).
 */
export function makeContainerId(parts: { workflowId: string; activityId: string; attempt: number }): string {
  const exact = `${parts.workflowId}\u0000${parts.activityId}\u0000${parts.attempt}`;
  const hash = createHash('sha256').update(exact).digest('hex').slice(0, 10);
  const readable = `${parts.workflowId}-${parts.activityId}`
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .replace(/\.{2,}/g, '_')
    .slice(0, 64);
  return validateContainerId(`${containerIdPrefix}${readable}-a${parts.attempt}-${hash}`);
}
