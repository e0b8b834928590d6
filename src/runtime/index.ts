export { type AbortOptions, type AbortReport, abortContainer } from './abort.js';
export * from './args.js';
export {
  type ContainerIdParts,
  containerIdPrefix,
  makeContainerId,
  maxDerivedIdLength,
  validateContainerId,
} from './container-id.js';
export * from './errors.js';
export { type ExitStatus, runtimeErrorsFromLog, sandboxPanic, toExitStatus } from './exit-status.js';
export { type RunOptions, type RunResult, Runsc } from './runsc.js';
export type { ContainerState, RuntimeVersion } from './types.js';
export { type RuntimeTraits, runtimePlatform, traitsFor, traitsOf } from './version.js';
