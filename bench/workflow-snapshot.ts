/**
 * A copy of the workflow code taken when the bench starts, which every worker of the run bundles.
 * Workers bundle workflow code from source at start; the crash scenario starts new workers
 * minutes later, and if the checkout changed meanwhile (another engineer's commit landed), the
 * restarted worker replays the running pipeline with other code and fails it with a
 * nondeterminism error. Pinning the code keeps every worker of one run on one version, as a
 * deployment would. Workflow code imports only @temporalio/workflow and types, so the folder
 * plus a node_modules link is all it needs.
 */
import { cp, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Copies workflows/ under `dir` and returns the path to give as `workflowsPath`. */
export async function snapshotWorkflows(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await cp(join(repoRoot, 'workflows'), join(dir, 'workflows'), { recursive: true });
  await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return join(dir, 'workflows', 'index.ts');
}
