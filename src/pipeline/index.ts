export { stepNamePattern } from '../../workflows/references.js';
export {
  type PipelineFile,
  pipelineNamePattern,
  pipelineSchema,
  retrySchema,
  stepSchema,
} from '../spec/step.js';
export { durationMs } from './duration.js';
export { PipelineError, type PipelineProblem } from './errors.js';
export { type ParsePipelineOptions, parsePipeline, parsePipelineFile } from './parse.js';
export type { PipelineFormat } from './syntax.js';
