/**
 * Step references inside a step's `args`, `env` values and `cwd`:
 *
 *   ${steps.<name>.exitCode}          the exit code of an earlier step
 *   ${steps.<name>.result}            its parsed /out/result.json (objects and arrays as JSON)
 *   ${steps.<name>.result.<a.b.0>}    one value inside it; numeric parts index arrays
 *   ${raw:steps.<name>...}            the same, substituted as raw text wherever it stands
 *   $$                                a literal `$` (so `$${HOME}` gives the shell `${HOME}`)
 *
 * A `$` before anything else stays as it is, so `$HOME` reaches the shell untouched.
 *
 * A result is written by a step, and step code is hostile: a result must never become code in a
 * later step. So a reference is data wherever it lands (argv-roles.ts says what an argument is):
 * in env values, cwd and plain arguments it is substituted as it is, one argv element no shell
 * parses; in the script of `sh -c` (bash, dash...) it is shell-quoted, one word, where it stands
 * outside quotes (shell-lexer.ts), and refused elsewhere in the script; in code (`python3 -c`,
 * an interpreter's options, a program name) it is refused. `${raw:...}` takes the raw text
 * anywhere: what it does there is the pipeline author's responsibility. An exit code is a
 * number the worker measured, not text a step wrote: it goes anywhere as it is.
 *
 * Imports only plain modules on purpose: this file is bundled into workflow code, which must
 * stay deterministic, and the pipeline validator uses the same scanner so both agree.
 */
import { type ArgRole, argumentRoles } from './argv-roles.js';
import { ShellLexer, type ShellPlace } from './shell-lexer.js';

export interface Reference {
  step: string;
  /** `['exitCode']`, `['result']` or `['result', ...keys]`. */
  path: string[];
  /** Written `${raw:...}`: substituted as raw text even where it could become code. */
  raw?: true;
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

type Part = { text: string } | { reference: Reference; text: string } | { error: string; text: string };

const stepName = '[a-z0-9][a-z0-9_-]{0,62}';
/** What a step name may be; the pipeline schema uses this too, so every name can be referenced. */
export const stepNamePattern = new RegExp(`^${stepName}$`);
const referenceBody = new RegExp(
  `^(raw:)?steps\\.(${stepName})\\.(?:(exitCode)|result((?:\\.[A-Za-z0-9_-]+)*))$`,
);
const syntaxHint = `write \${steps.<name>.exitCode}, \${steps.<name>.result} or \${steps.<name>.result.<path>}, or "$$" for a literal "$"`;

/**
 * Splits text into literal pieces, references and malformed `${...}` (kept verbatim). Without
 * `raw`, `${raw:...}` is malformed, as it was before raw references existed (see pipeline.ts).
 */
function scan(text: string, raw = true): Part[] {
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
    if (!match?.[2] || (match[1] && !raw)) {
      parts.push({
        error: `has a malformed reference at character ${i + 1}: ${syntaxHint}`,
        text: text.slice(i, close + 1),
      });
    } else {
      const path = match[3] ? ['exitCode'] : ['result', ...(match[4] ?? '').split('.').filter(Boolean)];
      const reference: Reference = { step: match[2], path, ...(match[1] ? { raw: true as const } : {}) };
      parts.push({ reference, text: text.slice(i, close + 1) });
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

function textOf(reference: Reference, results: Record<string, StepOutcome>): string {
  const outcome = Object.hasOwn(results, reference.step) ? results[reference.step] : undefined;
  return display(lookup(outcome, reference.path));
}

/** As textOf, but an exit code that is not a whole number (never expected) gives nothing. */
function dataOf(reference: Reference, results: Record<string, StepOutcome>): string {
  const value = textOf(reference, results);
  return isExitCode(reference) && !/^\d*$/.test(value) ? '' : value;
}

/**
 * Substitutes every reference as text, as the workflow did before references became data
 * (pipelines started then still resolve this way, see pipeline.ts): a step that did not run (or
 * wrote no result), a missing path and a null value all become the empty string. Malformed
 * `${...}` (and `${raw:...}`, unknown then) stays verbatim rather than throwing, since a throw
 * in workflow code would stall the workflow; the validator refuses them.
 */
export function resolveReferences(text: string, results: Record<string, StepOutcome>): string {
  let out = '';
  for (const part of scan(text, false))
    out += 'reference' in part ? textOf(part.reference, results) : part.text;
  return out;
}

/** Substitutes every reference as data: for env values and cwd, where no shell parses it. */
export function resolveData(text: string, results: Record<string, StepOutcome>): string {
  let out = '';
  for (const part of scan(text)) out += 'reference' in part ? textOf(part.reference, results) : part.text;
  return out;
}

/** Whether the text holds any reference (raw ones too). */
export function hasReferences(text: string): boolean {
  return scan(text).some((part) => 'reference' in part);
}

/** A POSIX shell word that is exactly `value`: single quotes, each `'` written `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

export interface ArgProblem {
  /** The index in `args`. */
  index: number;
  message: string;
}

type Planned = { text: string } | { reference: Reference; quote: boolean } | { problem: string };

const placeNames: Record<Exclude<ShellPlace, undefined>, string> = {
  'single-quotes': "inside '...' quotes",
  'double-quotes': 'inside "..." quotes',
  'ansi-c-quotes': "inside $'...' quotes",
  backquotes: 'inside a `...` command substitution',
  'parameter-expansion': 'inside a ${...} expansion',
  arithmetic: 'inside an arithmetic expression',
  subscript: 'inside [...] after a name or "$" (bash reads an array subscript as arithmetic)',
  comment: 'inside a comment',
  'here-document': 'inside a here document',
  'after-backslash': 'right after a backslash',
  'after-dollar': 'right after a "$"',
  'after-raw': 'after a ${raw:...} reference',
  unknown: 'where this check cannot follow the script (a here document it cannot read, or an unmatched ")")',
};

const envAdvice = (written: string) => {
  const plain = written.replace('${raw:', '${');
  return `pass it in env instead (env: { VALUE: "${plain}" }) and read the variable`;
};

/**
 * An exit code is a number the worker measured, never text a step wrote: it goes anywhere as it
 * is (digits, or nothing for a step that did not run or was killed).
 */
const isExitCode = (reference: Reference) => reference.path[0] === 'exitCode';

/** How each piece of one argument is substituted, or why a reference may not stand there. */
function plan(arg: string, role: ArgRole): Planned[] {
  const parts = scan(arg);
  const asItIs = (part: Part): Planned | undefined => {
    if (!('reference' in part)) return part;
    if (role.kind === 'data' || part.reference.raw || isExitCode(part.reference)) {
      return { reference: part.reference, quote: false };
    }
    return undefined;
  };
  if (role.kind !== 'shell-script') {
    const why = role.kind === 'code' ? role.why : '';
    return parts.map((part) => {
      const planned = asItIs(part);
      if (planned) return planned;
      return {
        problem: `has ${part.text}, which ${why}: a step's result must never become code; ${envAdvice(part.text)} there, or write ${part.text.replace('${', '${raw:')} to take the raw text on your own responsibility`,
      };
    });
  }
  const lexer = new ShellLexer();
  return parts.map((part) => {
    if (!('reference' in part)) {
      lexer.feed(part.text);
      return part;
    }
    // Digits or nothing: neither moves the shell out of where it stands; the lexer reads on.
    if (isExitCode(part.reference)) return { reference: part.reference, quote: false };
    if (part.reference.raw) {
      lexer.insertedUnknown();
      return { reference: part.reference, quote: false };
    }
    const place = lexer.place();
    if (place) {
      return {
        problem: `has ${part.text} ${placeNames[place]} in the ${role.program} script, where it cannot be quoted as one word: move it out of there (a reference outside quotes is shell-quoted as one word, e.g. echo "v="${part.text}), or ${envAdvice(part.text)} as "$VALUE"`,
      };
    }
    lexer.insertedQuotedWord();
    return { reference: part.reference, quote: true };
  });
}

const optionProblem = (program: string, arg: string) =>
  `starts with ${arg.slice(0, arg.indexOf('}') + 1)}, whose value starts with "-": ${program} could read it as an option (as tar reads --to-command=...), and a step's result must never become code; put text before it (e.g. --name=${arg}), put "--" before this argument if ${program} takes it, or ${envAdvice(arg.slice(0, arg.indexOf('}') + 1))}`;

/** Every reference in `args` that may not stand where it stands, with the fix. */
export function argumentProblems(args: readonly string[]): ArgProblem[] {
  const roles = argumentRoles(args);
  return args.flatMap((arg, index) =>
    plan(arg, roles[index] as ArgRole).flatMap((piece) =>
      'problem' in piece ? [{ index, message: piece.problem }] : [],
    ),
  );
}

/**
 * Substitutes the references of a step's `args` as data: as they are in plain arguments,
 * shell-quoted in a shell script. A reference that may not stand where it stands (the
 * validator refuses those; a client may skip it) gives the problem instead, and nothing runs;
 * so does a result that starts an argument its program may read as an option with "-".
 */
export function resolveArgs(
  args: readonly string[],
  results: Record<string, StepOutcome>,
): { args: string[] } | { problem: ArgProblem } {
  const roles = argumentRoles(args);
  const resolved: string[] = [];
  for (const [index, arg] of args.entries()) {
    const role = roles[index] as ArgRole;
    let out = '';
    for (const piece of plan(arg, role)) {
      if ('problem' in piece) return { problem: { index, message: piece.problem } };
      if ('text' in piece) out += piece.text;
      else {
        const value = dataOf(piece.reference, results);
        if (
          !out &&
          value.startsWith('-') &&
          role.kind === 'data' &&
          role.mayBeOption &&
          !piece.reference.raw
        ) {
          // Known only now, from the value: the validator cannot see it coming.
          return { problem: { index, message: optionProblem(args[0] ?? '', arg) } };
        }
        out += piece.quote ? shellQuote(value) : value;
      }
    }
    resolved.push(out);
  }
  return { args: resolved };
}
