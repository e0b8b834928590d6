import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from './rootfs.js';

/** The Temporal CLI release scripts/setup.sh builds; bump both together. */
export const pinnedTemporalCliVersion = 'v1.5.1';

/**
 * The `temporal` binary that serves as the local dev server: `TEMPORAL_CLI_PATH` if set, else the
 * one scripts/setup.sh built into the cache. Undefined when neither exists, in which case
 * callers fall back to @temporalio/testing's own download (which needs internet).
 */
export async function findTemporalCli(): Promise<string | undefined> {
  const candidates = [
    process.env.TEMPORAL_CLI_PATH,
    join(cacheDir(), 'bin', `temporal-${pinnedTemporalCliVersion}`),
  ].filter((path): path is string => Boolean(path));
  for (const candidate of candidates) {
    const usable = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (usable) return candidate;
  }
  return undefined;
}

/** The `executable` option of `TestWorkflowEnvironment.createLocal` for this machine. */
export async function devServerExecutable(): Promise<
  { type: 'existing-path'; path: string } | { type: 'cached-download' }
> {
  const path = await findTemporalCli();
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}
