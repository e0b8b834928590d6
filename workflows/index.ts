export { controlQueueFor } from './control-queue.js';
export { type HostJanitorInput, hostJanitor } from './janitor.js';
export { batchesOf, sandboxPipeline, statusQuery } from './pipeline.js';
export * from './types.js';
