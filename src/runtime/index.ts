export { type AbortOptions, type AbortReport, abortContainer } from './abort.js';
export * from './args.js';
export { containerIdPrefix, makeContainerId, validateContainerId } from './container-id.js';
export * from './errors.js';
export { type ExitStatus, runtimeErrorsFromLog, sandboxPanic, toExitStatus } from './exit-status.js';
export { type RunOptions, type RunResult, Runsc } from './runsc.js';
export type { ContainerState, RuntimeVersion } from './types.js';
