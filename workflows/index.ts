export { controlQueueFor } from './control-queue.js';
export { type HostJanitorInput, hostJanitor } from './janitor.js';
export {
  type LogActivities,
  type LogChunk,
  type ReadLogRequest,
  type ReadStepLogInput,
  readStepLog,
} from './logs.js';
export { batchesOf, sandboxPipeline, statusQuery } from './pipeline.js';
export {
  defaultSandboxTaskQueue,
  type HostTarget,
  runSandboxed,
  type SandboxedOptions,
  type SandboxedSpec,
  type SandboxFailure,
  type SandboxHost,
  type SandboxHostOptions,
  sandboxFailure,
  sandboxHost,
} from './run-sandboxed.js';
export * from './types.js';
