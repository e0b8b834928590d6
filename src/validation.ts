import type { z } from 'zod';

export interface FieldProblem {
  /** Dotted path of the field, e.g. `steps[2].limits.memoryBytes`. */
  field: string;
  message: string;
}

/** Bad input: one problem per bad field, each naming the field and what to do instead. */
export class ValidationError extends Error {
  override name = 'ValidationError';
  constructor(
    readonly what: string,
    readonly problems: readonly FieldProblem[],
  ) {
    super(`invalid ${what}:\n${problems.map((p) => `  - ${p.field}: ${p.message}`).join('\n')}`);
  }
}

export function fieldPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

/** Turns zod's issues into field problems with messages a person can act on. */
export function problemsFromZod(error: z.ZodError, prefix = ''): FieldProblem[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return {
        field: fieldPath(issue.path, prefix),
        message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}: remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling`,
      };
    }
    if (issue.code === 'invalid_key') {
      return { field: fieldPath(issue.path, prefix), message: issue.issues[0]?.message ?? issue.message };
    }
    if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) {
      return {
        field: fieldPath(issue.path, prefix),
        message: `must be ${issue.expected}`,
      };
    }
    return { field: fieldPath(issue.path, prefix), message: issue.message };
  });
}

/** Parses with a zod schema or throws one ValidationError that lists every bad field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  prefix = '',
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(what, problemsFromZod(result.error, prefix));
  return result.data;
}
