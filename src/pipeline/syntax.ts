/** Turns the file's text into a plain value, or into syntax problems that never quote the file. */
import { type Document, LineCounter, parseDocument, visit, type YAMLError } from 'yaml';
import type { PipelineProblem } from './errors.js';

export type PipelineFormat = 'yaml' | 'json';

export interface ReadDocument {
  value: unknown;
  /** The YAML view of the text (JSON included), used to find the line of each problem. */
  doc: Document;
  lines: LineCounter;
  problems: PipelineProblem[];
}

const file = '(file)';

export function readDocument(text: string, format: PipelineFormat): ReadDocument {
  const lines = new LineCounter();
  // prettyErrors off: pretty messages quote the source line, which may hold a secret.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const read = (value: unknown, problems: PipelineProblem[] = []) => ({ value, doc, lines, problems });
  if (text.trim() === '' || (format === 'yaml' && doc.contents === null && doc.errors.length === 0)) {
    return read(undefined, [
      { field: file, message: 'is empty: a pipeline needs at least "name" and "steps"' },
    ]);
  }
  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return read(undefined, [jsonProblem(text, lines, (error as Error).message)]);
    }
    // JSON.parse keeps the last of two equal keys without a word; a lost setting is worth refusing.
    const twice = doc.errors.filter((error) => error.code === 'DUPLICATE_KEY');
    return read(
      value,
      twice.map((error) => yamlProblem(error, lines)),
    );
  }
  if (doc.errors.length > 0) {
    return read(
      undefined,
      doc.errors.map((error) => yamlProblem(error, lines)),
    );
  }
  try {
    return read(doc.toJS());
  } catch (error) {
    // toJS throws on an alias without anchor, or on too many aliases (a "billion laughs" file).
    const message = `is not valid YAML: ${withoutQuote((error as Error).message)}`;
    const offset = unresolvedAlias(doc);
    return read(undefined, [
      { field: file, message, ...(offset === undefined ? {} : { line: lines.linePos(offset).line }) },
    ]);
  }
}

function yamlProblem(error: YAMLError, lines: LineCounter): PipelineProblem {
  const line = lines.linePos(error.pos[0]).line;
  if (error.code === 'MULTIPLE_DOCS') {
    return {
      field: file,
      line,
      message: 'holds more than one YAML document: keep one pipeline per file, without "---"',
    };
  }
  if (error.code === 'DUPLICATE_KEY') {
    return {
      field: file,
      line,
      message: 'has a key twice in the same mapping: keep one',
    };
  }
  return { field: file, line, message: `is not valid YAML: ${withoutQuote(error.message)}` };
}

/** Where the first alias without an anchor is, since yaml only finds out when building values. */
function unresolvedAlias(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) !== undefined) return undefined;
      offset = alias.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}

/** A few yaml messages end by quoting the source (`...: <text>`); keep only the explanation. */
const withoutQuote = (message: string) => message.split(': ')[0] ?? message;

function jsonProblem(text: string, lines: LineCounter, message: string): PipelineProblem {
  // V8 may append a quote of the text (`, "..." is not valid JSON`): drop it, it may hold a secret.
  const reason = message
    .replace(/, (\.\.\.)?".*$/s, '')
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/ \(line \d+ column \d+\)$/, '');
  const position = Number(/at position (\d+)/.exec(message)?.[1] ?? jsonErrorOffset(text));
  return {
    field: file,
    line: lines.linePos(Math.min(position, text.length)).line,
    message: `is not valid JSON: ${reason}; check the commas, quotes and brackets there`,
  };
}

/**
 * Where JSON.parse stopped, for messages that do not say. Whether a prefix of the text can still
 * become valid JSON only changes once, from yes to no, so a binary search finds the first bad
 * character.
 */
function jsonErrorOffset(text: string): number {
  const viable = (length: number) => {
    try {
      JSON.parse(text.slice(0, length));
      return true;
    } catch (error) {
      const message = (error as Error).message;
      const at = /at position (\d+)/.exec(message)?.[1];
      return message === 'Unexpected end of JSON input' || Number(at) >= length;
    }
  };
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (viable(middle + 1)) low = middle + 1;
    else high = middle;
  }
  return low;
}
