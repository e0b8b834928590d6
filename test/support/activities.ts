import { join } from 'node:path';
import { inject } from 'vitest';
import { createActivities, type SandboxActivityOptions } from '../../activities/index.js';
import { testRuntime } from './runtime.js';

export const testHost = 'test-host';
export const testHostQueue = 'temporal-runsc-test-host';

/** The container activities on the suite's runsc root and rootfs. */
export function testActivities(options: Partial<SandboxActivityOptions> = {}) {
  return createActivities({
    runtime: testRuntime(),
    host: testHost,
    hostQueue: testHostQueue,
    workDir: join(inject('workDir'), 'activities'),
    rootfs: inject('rootfs'),
    graceMs: 1000,
    heartbeatIntervalMs: 100,
    ...options,
  });
}
