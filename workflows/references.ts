/**
 * Step references inside a step's `args`, `env` values and `cwd`:
 *
 *   ${steps.<name>.exitCode}          the exit code of an earlier step
 *   ${steps.<name>.result}            its parsed /out/result.json (objects and arrays as JSON)
 *   ${steps.<name>.result.<a.b.0>}    one value inside it; numeric parts index arrays
 *   $$                                a literal `$` (so `$${HOME}` gives the shell `${HOME}`)
 *
 * A `$` before anything else stays as it is, so `$HOME` reaches the shell untouched.
 *
 * No imports on purpose: this file is bundled into workflow code, which must stay deterministic,
 * and the pipeline validator uses the same scanner so both agree on the syntax.
 */

export interface Reference {
  step: string;
  /** `['exitCode']`, `['result']` or `['result', ...keys]`. */
  path: string[];
}

export interface ReferenceScan {
  references: Reference[];
  /** One message per malformed `${...}`, naming the 1-based character where it starts. */
  errors: string[];
}

export interface StepOutcome {
  exitCode: number | null;
  result?: unknown;
}

type Part = { text: string } | { reference: Reference } | { error: string; text: string };

const stepName = '[a-z0-9][a-z0-9_-]{0,62}';
/** What a step name may be; the pipeline schema uses this too, so every name can be referenced. */
export const stepNamePattern = new RegExp(`^${stepName}$`);
const referenceBody = new RegExp(`^steps\\.(${stepName})\\.(?:(exitCode)|result((?:\\.[A-Za-z0-9_-]+)*))$`);
const syntaxHint = `write \${steps.<name>.exitCode}, \${steps.<name>.result} or \${steps.<name>.result.<path>}, or "$$" for a literal "$"`;

/** Splits text into literal pieces, references and malformed `${...}` (kept verbatim). */
function scan(text: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const next = text[i + 1];
    if (text[i] !== '$' || (next !== '$' && next !== '{')) {
      literal += text[i];
      i += 1;
      continue;
    }
    if (next === '$') {
      literal += '$';
      i += 2;
      continue;
    }
    if (literal) parts.push({ text: literal });
    literal = '';
    const close = text.indexOf('}', i + 2);
    if (close < 0) {
      parts.push({
        error: `has "\${" without a closing "}" at character ${i + 1}: close it, or write "$\${" for a literal "\${"`,
        text: text.slice(i),
      });
      return parts;
    }
    const match = referenceBody.exec(text.slice(i + 2, close));
    if (!match?.[1]) {
      parts.push({
        error: `has a malformed reference at character ${i + 1}: ${syntaxHint}`,
        text: text.slice(i, close + 1),
      });
    } else {
      const path = match[2] ? ['exitCode'] : ['result', ...(match[3] ?? '').split('.').filter(Boolean)];
      parts.push({ reference: { step: match[1], path } });
    }
    i = close + 1;
  }
  if (literal) parts.push({ text: literal });
  return parts;
}

export function findReferences(text: string): ReferenceScan {
  const found: ReferenceScan = { references: [], errors: [] };
  for (const part of scan(text)) {
    if ('reference' in part) found.references.push(part.reference);
    else if ('error' in part) found.errors.push(part.error);
  }
  return found;
}

function lookup(outcome: StepOutcome | undefined, path: string[]): unknown {
  if (!outcome) return undefined;
  if (path[0] === 'exitCode') return outcome.exitCode;
  let value = outcome.result;
  for (const key of path.slice(1)) {
    // Own properties only: `constructor` or `__proto__` must not reach into prototypes.
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function display(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Substitutes every reference. A step that did not run (or wrote no result), a missing path and
 * a null value all become the empty string. Malformed `${...}` stays verbatim rather than
 * throwing, since a throw in workflow code would stall the workflow; the validator refuses them.
 */
export function resolveReferences(text: string, results: Record<string, StepOutcome>): string {
  let out = '';
  for (const part of scan(text)) {
    if ('reference' in part) {
      const outcome = Object.hasOwn(results, part.reference.step) ? results[part.reference.step] : undefined;
      out += display(lookup(outcome, part.reference.path));
    } else out += part.text;
  }
  return out;
}
