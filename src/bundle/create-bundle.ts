import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, stat } from 'node:fs/promises';
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
 * the runtime would fail with a less helpful message. The file is written new (never through a
 * link) and readable by root only: it holds the step's environment, secret values included.
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

  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!(await lstat(dir)).isDirectory()) {
    throw new Error(`bundle folder ${dir} is a link, not a folder: refusing to write through it`);
  }
  // A new file renamed into place: rename replaces whatever has the name (a link included)
  // without following it, and a bundle folder can be written again for another run.
  const temporary = join(dir, `.config.json.${randomBytes(6).toString('hex')}`);
  const file = await open(temporary, configFlags, 0o600);
  try {
    await file.writeFile(`${JSON.stringify(toOciConfig(spec), null, 2)}\n`);
  } finally {
    await file.close();
  }
  await rename(temporary, join(dir, 'config.json'));
  return dir;
}

const configFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

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
