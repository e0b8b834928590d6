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
 * The longest id `makeContainerId` gives. Current runsc names a control socket
 * `<root>/runsc-<id>.sock` and must reach it through `/proc/self/fd/N/`, within a socket path's
 * 108 bytes: ids much past 64 characters fail to start (RUNSC-CURRENT.md, section 2).
 */
export const maxDerivedIdLength = 60;

export interface ContainerIdParts {
  /** The workflow's namespace: two namespaces may use the same workflow id. */
  namespace: string;
  workflowId: string;
  /** The workflow run: a workflow id reused after its first run closed is another run. */
  runId: string;
  activityId: string;
  attempt: number;
}

/**
 * One id per attempt, derived from who runs it: readable where the parts allow, made safe for
 * the runtime, at most `maxDerivedIdLength` characters, and unique through a hash of the exact
 * parts (namespace and run included, which only the hash carries): two workflow ids that only
 * differ in characters we replace or cut still get different container ids.
 */
export function makeContainerId(parts: ContainerIdParts): string {
  const exact = [
    parts.namespace,
    parts.workflowId,
    parts.runId,
    parts.activityId,
    String(parts.attempt),
  ].join('\u0000');
  const hash = createHash('sha256').update(exact).digest('hex').slice(0, 12);
  const tail = `-a${parts.attempt}-${hash}`;
  const room = maxDerivedIdLength - containerIdPrefix.length - tail.length;
  const readable = `${parts.workflowId}-${parts.activityId}`
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .replace(/\.{2,}/g, '_')
    .slice(0, Math.max(0, room))
    // A cut can end on `.`; the readable part is decoration, the hash makes the id unique.
    .replace(/[._-]+$/, '');
  return validateContainerId(`${containerIdPrefix}${readable}${tail}`);
}
