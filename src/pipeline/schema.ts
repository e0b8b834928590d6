/** The pipeline schema is the one step schema of src/spec, which workflow code validates with too. */
export {
  type PipelineFile,
  pipelineNamePattern,
  pipelineSchema,
  retrySchema,
  stepSchema,
} from '../spec/step.js';
