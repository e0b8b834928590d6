/**
 * Whether a step can start, as far as its own spec decides: its program and its working folder
 * must exist in its root filesystem. Checked by the activity before anything is made for the
 * attempt, so a step that cannot start fails at once, non-retryable (`InvalidStep`), naming the
 * field, where runsc would exit 128 (a runtime failure, retried) or, in its 2022 build, create a
 * missing working folder in the operator's shared rootfs (on the host, as root, though the
 * rootfs is read-only to the step). Paths under a mount are left to runsc, whose refusal the
 * activity words the same way (src/runtime/start-failure.ts).
 */
import type { FieldProblem } from '../validation.js';
import { lookupInRootfs, type RootfsEntry } from './rootfs-lookup.js';

export interface StepStartSpec {
  rootfs: string;
  args: readonly string[];
  cwd?: string | undefined;
  /** The step's PATH (its env's, or the bundle's default). */
  path: string;
  /** Container paths something is mounted on (the sandbox's own, /out, the step's mounts). */
  mountPoints: readonly string[];
}

const isExecutable = (entry: RootfsEntry) =>
  entry.kind === 'file' && (Number(entry.stats.mode) & 0o111) !== 0;

function describe(path: string, entry: RootfsEntry): string {
  switch (entry.kind) {
    case 'missing':
      return entry.at === path ? 'does not exist' : `does not exist (${entry.at} is missing)`;
    case 'not-a-directory':
      return `does not exist (${entry.at} is not a folder)`;
    case 'link-loop':
      return `cannot be reached (too many links at ${entry.at})`;
    case 'directory':
      return 'is a folder';
    case 'file':
      return isExecutable(entry) ? 'is a file' : 'is not executable (no x bit)';
    default:
      return 'is not a regular file';
  }
}

export async function stepStartProblems(spec: StepStartSpec): Promise<FieldProblem[]> {
  const problems: FieldProblem[] = [];
  const where = `in the root filesystem ${spec.rootfs}`;
  const program = spec.args[0] ?? '';
  if (program.startsWith('/')) {
    const entry = await lookupInRootfs(spec.rootfs, program, spec.mountPoints);
    if (entry.kind !== 'mounted' && !isExecutable(entry)) {
      problems.push({
        field: 'args[0]',
        message: `${program} ${describe(program, entry)} ${where}: name a program that is in it`,
      });
    }
  } else if (program !== '') {
    const folders = spec.path.split(':').filter((folder) => folder.startsWith('/'));
    let found = false;
    for (const folder of folders) {
      const entry = await lookupInRootfs(spec.rootfs, `${folder}/${program}`, spec.mountPoints);
      if (entry.kind === 'mounted' || isExecutable(entry)) {
        found = true;
        break;
      }
    }
    if (!found) {
      problems.push({
        field: 'args[0]',
        message: `${JSON.stringify(program)} is not in any folder of PATH (${spec.path}) ${where}: give its absolute path, or set env.PATH`,
      });
    }
  }
  if (spec.cwd !== undefined) {
    const entry = await lookupInRootfs(spec.rootfs, spec.cwd, spec.mountPoints);
    if (entry.kind !== 'mounted' && entry.kind !== 'directory') {
      problems.push({
        field: 'cwd',
        message: `${spec.cwd} ${describe(spec.cwd, entry)} ${where}: use a folder that exists in it (or one a mount provides)`,
      });
    }
  }
  return problems;
}
