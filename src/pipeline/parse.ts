/** Reads a pipeline file into the workflow's input, or throws one error listing every problem. */
import { readFile } from 'node:fs/promises';
import type { PipelineInput } from '../../workflows/types.js';
import { pipelineSchema } from '../spec/step.js';
import { fieldPath, problemsFromZod } from '../validation.js';
import { PipelineError, type PipelineProblem } from './errors.js';
import { lineOf } from './locate.js';
import { pipelineRuleProblems } from './rules.js';
import { type PipelineFormat, readDocument } from './syntax.js';

export interface ParsePipelineOptions {
  /** Shown in errors; its extension picks the format when `format` is not given. */
  filename?: string;
  format?: PipelineFormat;
}

const formatOf = (filename = ''): PipelineFormat => (/\.json$/i.test(filename) ? 'json' : 'yaml');

export function parsePipeline(text: string, options: ParsePipelineOptions = {}): PipelineInput {
  const { filename } = options;
  const { value, doc, lines, problems } = readDocument(text, options.format ?? formatOf(filename));
  if (problems.length > 0) throw new PipelineError(filename, problems);

  const found: PipelineProblem[] = [];
  const parsed = pipelineSchema.safeParse(value);
  if (!parsed.success) {
    // problemsFromZod maps issue i to problem i, which keeps each issue's path for the line.
    const issues = parsed.error.issues;
    problemsFromZod(parsed.error).forEach((problem, index) => {
      const issue = issues[index];
      if (!issue) return;
      // An unknown key is found at the key itself, one level below the issue's path.
      const unknown = issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [];
      found.push(withLine(problem, lineOf(doc, lines, [...issue.path, ...unknown], unknown.length > 0)));
    });
  }
  for (const { path, message } of pipelineRuleProblems(value)) {
    found.push(withLine({ field: fieldPath(path), message }, lineOf(doc, lines, path)));
  }
  if (found.length > 0 || !parsed.success) throw new PipelineError(filename, sortByLine(found));
  return parsed.data;
}

export async function parsePipelineFile(path: string): Promise<PipelineInput> {
  return parsePipeline(await readFile(path, 'utf8'), { filename: path });
}

const withLine = (problem: PipelineProblem, line: number | undefined): PipelineProblem =>
  line === undefined ? problem : { ...problem, line };

/** Problems in file order read best; those without a line (nothing to point at) go first. */
const sortByLine = (problems: PipelineProblem[]) =>
  [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
