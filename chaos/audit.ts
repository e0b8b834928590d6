/**
 * The audit every chaos scenario ends with: what a user relies on after any chaos at all.
 *
 *  1. `runsc list` on each of the scenario's roots answers, and is empty;
 *  2. no runsc process of those roots is left (sandbox, gofer, `run`, a hung command), nor a
 *     process holding a file in them (a lock holder);
 *  3. no state or lock file is left in them;
 *  4. no cgroup is left named after the scenario's containers;
 *  5. every step that succeeded or failed recorded the exit code its script really ends with.
 *
 * Host state may take a moment to settle after a pipeline closes (a cancelled step's abort can
 * still be confirming), so checks 1-4 are retried until `settleMs`; 5 is checked once.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processesHoldingFilesIn, processesOfRoot } from '../src/host/processes.js';
import { Runsc } from '../src/runtime/index.js';
import { runtimeUnderTest } from '../test/support/runsc-builds.js';
import type { TrackedPipeline } from './pipelines.js';
import { isRecordedSandboxCrash } from './steps.js';

export interface AuditTarget {
  roots: readonly string[];
  /** Every container of the scenario has an id starting with this (e.g. `trs-c123-kill-`). */
  containerPrefix: string;
  pipelines: readonly TrackedPipeline[];
  /**
   * The scenario's workers still running: not leftovers, though they name their root (the CLI's
   * `worker --root=<root>`), so check 2 passes them over.
   */
  workerPids?: readonly number[];
}

export interface AuditReport {
  /** All of them: the host's state (checks 1-4), then exit codes (check 5). */
  problems: string[];
  hostProblems: string[];
  /** Steps whose exit code was compared. */
  stepsChecked: number;
  /** How long the host state took to come clean (or the settle time, when it did not). */
  settledMs: number;
}

export const cgroupRoot = '/sys/fs/cgroup';

export async function audit(target: AuditTarget, options: { settleMs?: number } = {}): Promise<AuditReport> {
  const startedAt = Date.now();
  const deadline = startedAt + (options.settleMs ?? 15_000);
  let hostProblems: string[];
  for (;;) {
    const final = Date.now() > deadline;
    hostProblems = await hostStateProblems(target, { final });
    if (hostProblems.length === 0 || final) break;
    await sleep(250);
  }
  const settledMs = Date.now() - startedAt;
  const exitCodes = exitCodeProblems(target.pipelines);
  const stale = hostProblems.map(
    (problem) => `${problem} (still so after ${Math.round(settledMs / 1000)} s)`,
  );
  return {
    problems: [...stale, ...exitCodes.problems],
    hostProblems: stale,
    stepsChecked: exitCodes.checked,
    settledMs,
  };
}

/**
 * Checks 1 to 4, for every root. `runsc list` locks every container it finds, and one that is
 * being destroyed at that moment gets its lock file created again and left behind (measured on
 * this runsc): so while state files are still there the audit only reads the folder, and asks
 * the runtime once the folder is clean, or on the final attempt.
 */
export async function hostStateProblems(
  target: Pick<AuditTarget, 'roots' | 'containerPrefix' | 'workerPids'>,
  options: { final: boolean },
): Promise<string[]> {
  const problems: string[] = [];
  for (const root of target.roots) {
    const files = await stateFileProblems(root);
    problems.push(...(await processProblems(root, target.workerPids ?? [])), ...files);
    if (files.length === 0 || options.final) problems.push(...(await listProblems(root)));
  }
  const cgroups = await cgroupsNamedAfter(target.containerPrefix);
  if (cgroups.length > 0) problems.push(`cgroups left: ${cgroups.join(', ')}`);
  return problems;
}

/** 1: the real runsc, with a deadline: a `list` that hangs is a finding, not a hung audit. */
async function listProblems(root: string): Promise<string[]> {
  try {
    const listed = await new Runsc({ root, command: runtimeUnderTest() }).withTimeout(5000).list();
    return listed.length === 0
      ? []
      : [`runsc list on ${root} is not empty: ${listed.map((c) => `${c.id} (${c.status})`).join(', ')}`];
  } catch (error) {
    return [`runsc list on ${root} failed: ${(error as Error).message}`];
  }
}

/** 2: processes naming the root (`--root=<root>`: sandbox, gofer, run...) or holding its files. */
async function processProblems(root: string, workerPids: readonly number[]): Promise<string[]> {
  const ofRoot = (await processesOfRoot(root)).filter((p) => !workerPids.includes(p.pid));
  const holders = (await processesHoldingFilesIn(root)).filter((h) => !ofRoot.some((p) => p.pid === h.pid));
  return [...ofRoot, ...holders].map(
    (p) => `process ${p.pid} of ${root} left: ${p.args.slice(0, 6).join(' ').slice(0, 160)}`,
  );
}

/**
 * 3: runsc keeps `<id>_sandbox:<id>.state` and `.lock` files per container, and current runsc a
 * `runsc-<id>.sock`; the root's shared `null-netns` is not a container's and stays until a wipe.
 */
async function stateFileProblems(root: string): Promise<string[]> {
  const left = await containerFiles(root);
  return left.length === 0 ? [] : [`state/lock files left in ${root}: ${left.join(', ')}`];
}

/**
 * The state and lock files in a root, read from the folder: unlike `runsc list` or `state`,
 * reading it never changes it, so scenarios poll this while containers are being destroyed.
 */
export async function containerFiles(
  root: string,
  kind: 'state' | 'lock' | 'any' = 'any',
): Promise<string[]> {
  const entries = await readdir(root).catch(() => [] as string[]);
  return entries.filter((name) =>
    kind === 'any'
      ? /\.(state|lock)$/.test(name) || name.includes('_sandbox:') || /^runsc-.+\.sock$/.test(name)
      : name.endsWith(`.${kind}`),
  );
}

/**
 * 4: cgroup folders whose name starts with the prefix, in every hierarchy (cgroup v1 has one
 * per controller), a few levels deep (bundles put them under `temporal-runsc/<id>`).
 */
export async function cgroupsNamedAfter(prefix: string, root = cgroupRoot): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (entry.name.startsWith(prefix)) found.push(path);
      else if (depth > 0) await walk(path, depth - 1);
    }
  };
  await walk(root, 3);
  return found;
}

/** 5: recorded exit codes against what each step's script is known to end with. */
export function exitCodeProblems(pipelines: readonly TrackedPipeline[]): {
  problems: string[];
  checked: number;
} {
  const problems: string[] = [];
  let checked = 0;
  for (const pipeline of pipelines) {
    if (!pipeline.result) {
      problems.push(`${pipeline.workflowId}: no result to audit (${pipeline.error ?? 'still running'})`);
      continue;
    }
    for (const step of pipeline.result.steps) {
      if (step.status !== 'succeeded' && step.status !== 'failed') continue;
      checked++;
      const expected = pipeline.pipeline.expectations[step.name];
      if (!expected) {
        problems.push(`${pipeline.workflowId}: step ${step.name} has no known exit code`);
      } else if (expected.sandboxMayCrash && isRecordedSandboxCrash(step)) {
        // A truthful record of the sandbox's own crash: no exit code, the crash named.
      } else if (step.exitCode !== expected.exitCode) {
        problems.push(
          `${pipeline.workflowId}: step ${step.name} ${step.status} with recorded exit code ${step.exitCode}, but ${expected.why} (true code: ${expected.exitCode})${step.error ? `; error: ${step.error}` : ''}`,
        );
      }
    }
  }
  return { problems, checked };
}
