// temporal-runsc: the runtime client, bundles, host cleanup, pipeline files, worker and client helpers.
// The activities and the workflows have their own entry points: `temporal-runsc/activities`
// and `temporal-runsc/workflows`.
export * from './bundle/index.js';
export * from './client/index.js';
export { type DevServer, type DevServerOptions, findTemporalCli, startDevServer } from './dev-server.js';
export { type CleanupOptions, type CleanupReport, cleanupHost } from './host/cleanup.js';
export { LiveContainers } from './host/live-containers.js';
export * from './pipeline/index.js';
export * from './policy/index.js';
export { cacheDir, defaultRootfsDir, ensureBusyboxRootfs } from './rootfs.js';
export * from './runtime/index.js';
export { type FieldProblem, ValidationError } from './validation.js';
export * from './worker/index.js';
