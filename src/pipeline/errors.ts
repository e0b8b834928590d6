import { type FieldProblem, ValidationError } from '../validation.js';

export interface PipelineProblem extends FieldProblem {
  /** 1-based line in the file, when the problem's node (or its parent) is in it. */
  line?: number;
}

/** A pipeline file that cannot run, with every problem found in it. */
export class PipelineError extends ValidationError {
  override name = 'PipelineError';
  declare readonly problems: readonly PipelineProblem[];

  constructor(
    readonly filename: string | undefined,
    problems: readonly PipelineProblem[],
  ) {
    super(filename ? `pipeline ${filename}` : 'pipeline', problems);
    this.message = `invalid ${this.what}:\n${problems.map((p) => `  - ${p.field}${p.line === undefined ? '' : ` (line ${p.line})`}: ${p.message}`).join('\n')}`;
  }
}
