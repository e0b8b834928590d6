/**
 * Rules that span steps: unique names, adjacent groups, references to earlier steps and where in
 * `args` a reference may stand (workflows/references.ts, which the workflow applies too). They read
 * the raw document defensively (anything may be the wrong type) so that their problems are
 * reported together with the schema's, not only once the schema passes.
 */
import { argumentProblems, findReferences } from '../../workflows/references.js';
import { durationMs } from './duration.js';

export interface PathProblem {
  path: (string | number)[];
  message: string;
}

interface StepEntry {
  path: ['steps' | 'finally', number];
  raw: Record<string, unknown>;
  name: string | undefined;
  group: string | undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

function entries(file: Record<string, unknown>, list: 'steps' | 'finally'): StepEntry[] {
  const raw = file[list];
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((step, index) =>
    isRecord(step)
      ? [{ path: [list, index], raw: step, name: text(step.name), group: text(step.group) }]
      : [],
  );
}

const label = (entry: StepEntry) => `${entry.path[0]}[${entry.path[1]}]`;

function duplicateNames(all: StepEntry[]): PathProblem[] {
  const first = new Map<string, StepEntry>();
  const problems: PathProblem[] = [];
  for (const entry of all) {
    if (entry.name === undefined) continue;
    const earlier = first.get(entry.name);
    if (earlier) {
      problems.push({
        path: [...entry.path, 'name'],
        message: `"${entry.name}" is already the name of ${label(earlier)}: give each step its own name`,
      });
    } else first.set(entry.name, entry);
  }
  return problems;
}

/** Parallel groups run as one block in file order, so a group split by other steps is ambiguous. */
function groupProblems(steps: StepEntry[], finallySteps: StepEntry[]): PathProblem[] {
  const problems: PathProblem[] = [];
  const closed = new Set<string>();
  let previous: string | undefined;
  for (const entry of steps) {
    if (previous !== undefined && previous !== entry.group) closed.add(previous);
    if (entry.group !== undefined && closed.has(entry.group)) {
      problems.push({
        path: [...entry.path, 'group'],
        message: `steps of group "${entry.group}" must be listed next to each other: move this step up to the others`,
      });
    }
    previous = entry.group;
  }
  for (const entry of finallySteps) {
    if (entry.raw.group === undefined) continue;
    problems.push({
      path: [...entry.path, 'group'],
      message: 'is not allowed in finally: finally steps run one after another; remove it',
    });
  }
  return problems;
}

/** Each field of a step that may hold references, with its path. */
function referenceFields(entry: StepEntry): [(string | number)[], string][] {
  const fields: [(string | number)[], string][] = [];
  const { args, env, cwd } = entry.raw;
  if (Array.isArray(args)) {
    args.forEach((arg, index) => {
      if (typeof arg === 'string') fields.push([[...entry.path, 'args', index], arg]);
    });
  }
  if (isRecord(env)) {
    for (const [name, value] of Object.entries(env)) {
      if (typeof value === 'string') fields.push([[...entry.path, 'env', name], value]);
    }
  }
  if (typeof cwd === 'string') fields.push([[...entry.path, 'cwd'], cwd]);
  return fields;
}

/** Whether the step named `target` has ended before `entry` starts. */
type RunsBefore = (target: string) => boolean;

/** Why `entry` may not use the results of the step named `target`, or undefined if it may. */
function referenceError(
  entry: StepEntry,
  target: string,
  runsBefore: RunsBefore,
  all: StepEntry[],
): string | undefined {
  if (runsBefore(target)) return undefined;
  if (target === entry.name)
    return `refers to its own step "${target}": a step can only use results of steps before it`;
  const other = all.find((candidate) => candidate.name === target);
  if (!other) return `refers to step "${target}", which does not exist: check the name`;
  if (
    entry.path[0] === 'steps' &&
    other.path[0] === 'steps' &&
    entry.group !== undefined &&
    other.group === entry.group
  ) {
    return `refers to step "${target}" of the same group "${entry.group}", which runs at the same time: move one of them out of the group`;
  }
  return `refers to step "${target}", which runs later: a step can only use results of steps before it`;
}

/** Where each name first stands in `list`, with its group: "earlier" in one lookup (any length). */
function firstPlaces(list: StepEntry[]): Map<string, { index: number; group: string | undefined }> {
  const places = new Map<string, { index: number; group: string | undefined }>();
  list.forEach((entry, index) => {
    if (entry.name !== undefined && !places.has(entry.name))
      places.set(entry.name, { index, group: entry.group });
  });
  return places;
}

function referenceProblems(steps: StepEntry[], finallySteps: StepEntry[]): PathProblem[] {
  const all = [...steps, ...finallySteps];
  const problems: PathProblem[] = [];
  const check = (entry: StepEntry, runsBefore: RunsBefore) => {
    const { args } = entry.raw;
    if (Array.isArray(args)) {
      // A result must never become code: where a reference stands in args decides how it goes in.
      const texts = args.map((arg) => (typeof arg === 'string' ? arg : ''));
      for (const { index, message } of argumentProblems(texts)) {
        problems.push({ path: [...entry.path, 'args', index], message });
      }
    }
    for (const [path, value] of referenceFields(entry)) {
      const found = findReferences(value);
      for (const message of found.errors) problems.push({ path, message });
      for (const { step } of found.references) {
        const message = referenceError(entry, step, runsBefore, all);
        if (message) problems.push({ path, message });
      }
    }
  };
  const mainPlaces = firstPlaces(steps);
  steps.forEach((entry, index) => {
    // Steps of the same group run at once, so only steps before the group count as earlier.
    check(entry, (target) => {
      const place = mainPlaces.get(target);
      return (
        place !== undefined &&
        place.index < index &&
        (entry.group === undefined || place.group !== entry.group)
      );
    });
  });
  // Finally steps run after every main step (those that did not run resolve to "").
  const finallyPlaces = firstPlaces(finallySteps);
  finallySteps.forEach((entry, index) => {
    check(entry, (target) => mainPlaces.has(target) || (finallyPlaces.get(target)?.index ?? index) < index);
  });
  return problems;
}

/** Defaults apply to every step, so "earlier" has no single meaning there: no references. */
function defaultEnvProblems(file: Record<string, unknown>): PathProblem[] {
  const env = isRecord(file.defaults) ? file.defaults.env : undefined;
  if (!isRecord(env)) return [];
  return Object.entries(env).flatMap(([name, value]) => {
    if (typeof value !== 'string') return [];
    const found = findReferences(value);
    const messages = [...found.errors];
    if (found.references.length > 0) {
      messages.push(
        "must not refer to steps: defaults apply to every step; put the reference in the step's env",
      );
    }
    return messages.map((message) => ({ path: ['defaults', 'env', name], message }));
  });
}

/**
 * A step's retry is laid over defaults.retry key by key, so two settings that are each fine may
 * clash once merged. Clashes within one retry block are the schema's to report.
 */
function mergedRetryProblems(file: Record<string, unknown>, all: StepEntry[]): PathProblem[] {
  const defaults = isRecord(file.defaults) && isRecord(file.defaults.retry) ? file.defaults.retry : undefined;
  if (!defaults) return [];
  return all.flatMap((entry) => {
    const own = entry.raw.retry;
    if (!isRecord(own)) return [];
    const merged = { ...defaults, ...own };
    const initial = durationMs(merged.initialInterval);
    const maximum = durationMs(merged.maximumInterval);
    const mixed = 'initialInterval' in own !== 'maximumInterval' in own;
    if (!mixed || initial === undefined || maximum === undefined || maximum >= initial) return [];
    const message =
      'initialInterval' in own
        ? 'is longer than maximumInterval in defaults.retry: shorten it, or give this step its own maximumInterval'
        : 'is shorter than initialInterval in defaults.retry: lengthen it, or give this step its own initialInterval';
    const field = 'initialInterval' in own ? 'initialInterval' : 'maximumInterval';
    return [{ path: [...entry.path, 'retry', field], message }];
  });
}

export function pipelineRuleProblems(file: unknown): PathProblem[] {
  if (!isRecord(file)) return [];
  const steps = entries(file, 'steps');
  const finallySteps = entries(file, 'finally');
  return [
    ...duplicateNames([...steps, ...finallySteps]),
    ...groupProblems(steps, finallySteps),
    ...referenceProblems(steps, finallySteps),
    ...defaultEnvProblems(file),
    ...mergedRetryProblems(file, [...steps, ...finallySteps]),
  ];
}
