export { type HostJanitorInput, hostJanitor } from './janitor.js';
export { batchesOf, containerStartedSignal, sandboxPipeline, statusQuery } from './pipeline.js';
export * from './types.js';
