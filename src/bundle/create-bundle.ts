import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type FieldProblem, parseOrThrow, ValidationError } from '../validation.js';
import { toOciConfig } from './oci.js';
import { type BundleSpec, type BundleSpecInput, bundleSpecSchema } from './spec.js';

/** Validates a bundle spec (shape only, no disk access): throws one error listing each bad field. */
export function parseBundleSpec(input: unknown): BundleSpec {
  return parseOrThrow(bundleSpecSchema, input, 'bundle spec');
}

/**
 * Writes `<dir>/config.json` for one run and returns the bundle directory. The rootfs is not
 * copied: every run points at the same folder, read-only. Host paths are checked here, before
 * the runtime would fail with a less helpful message.
 */
export async function createBundle(dir: string, input: BundleSpecInput): Promise<string> {
  if (!dir.startsWith('/')) {
    throw new ValidationError('bundle', [{ field: 'dir', message: 'must be an absolute path' }]);
  }
  const spec = parseBundleSpec(input);
  const problems: FieldProblem[] = [];
  if (!(await isDirectory(spec.rootfs))) {
    problems.push({
      field: 'rootfs',
      message: `${spec.rootfs} is not a folder: build the root filesystem first (temporal-runsc setup), or fix the path`,
    });
  }
  for (const [index, mount] of spec.mounts.entries()) {
    if (!(await pathExists(mount.source))) {
      problems.push({
        field: `mounts[${index}].source`,
        message: `${mount.source} does not exist on this host: create it or fix the path`,
      });
    }
  }
  if (problems.length > 0) throw new ValidationError('bundle spec', problems);

  await mkdir(dir, { recursive: true });
  // Root only: the environment in it may hold a step's secrets.
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(toOciConfig(spec), null, 2)}\n`, {
    mode: 0o600,
  });
  return dir;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
