/**
 * Which runsc build the tests, the chaos suite and the bench use, by path. `npm test` runs the
 * integration project once per supported build (scripts/test.sh), naming it in
 * TEMPORAL_RUNSC_TEST_RUNTIME; without it, `runsc` from PATH, as the library and CLI default.
 * The paths are scripts/runsc-builds.sh's (a unit test checks they agree).
 */
import { join } from 'node:path';
import { cacheDir } from '../../src/rootfs.js';

export const testRuntimeEnv = 'TEMPORAL_RUNSC_TEST_RUNTIME';
export const testRuntimeLabelEnv = 'TEMPORAL_RUNSC_TEST_LABEL';

/** The pinned current gVisor release scripts/setup.sh builds. */
export const currentRunscRelease = 'release-20260905.0';

export interface RunscBuilds {
  /** Current gVisor (systrap by default), built by scripts/setup.sh. */
  current: string;
  /** Debian's 0.0~20221219 package (ptrace by default). */
  debian2022: string;
}

export function runscBuilds(): RunscBuilds {
  return {
    current: join(cacheDir(), 'bin', `runsc-${currentRunscRelease}`),
    debian2022: '/usr/bin/runsc',
  };
}

/** The runtime command under test: the selected build's path, or `runsc` from PATH. */
export function runtimeUnderTest(): string {
  return process.env[testRuntimeEnv] || 'runsc';
}

/** A short name for the build under test, for logs: `current`, `debian2022`, or the path. */
export function runtimeUnderTestLabel(): string {
  return process.env[testRuntimeLabelEnv] || runtimeUnderTest();
}
