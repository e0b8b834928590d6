/**
 * One real Temporal dev server and one runsc state root for the whole suite, on the runsc build
 * named by TEMPORAL_RUNSC_TEST_RUNTIME (test/support/runsc-builds.ts; `runsc` from PATH when
 * unset). The integration tests need root and runsc: without them this fails loudly instead of
 * skipping. At the end it audits what a user relies on: `runsc list` on the test root is empty
 * and no sandbox process of that root is left; then the library's own cleanup empties the root
 * (current runsc leaves a mounted `null-netns` there, which `rm -rf` cannot remove).
 */
import { mkdir, readFile, rm, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TestProject } from 'vitest/node';
import { devServerDynamicConfig, devServerExecutable, dynamicConfigArgs } from '../../src/dev-server.js';
import { cleanupHost } from '../../src/host/cleanup.js';
import { processesOfRoot } from '../../src/host/processes.js';
import { ensureBusyboxRootfs } from '../../src/rootfs.js';
import { Runsc, runtimePlatform } from '../../src/runtime/index.js';
import { runtimeUnderTest, runtimeUnderTestLabel } from './runsc-builds.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    /** The runsc binary under test, by path (or `runsc` from PATH). */
    runtimeCommand: string;
    /** The platform its sandboxes run on (the build's default: ptrace in 2022, systrap now). */
    runtimePlatform: string;
    runscRoot: string;
    rootfs: string;
    workDir: string;
  }
}

export default async function setup(project: TestProject) {
  if (process.getuid?.() !== 0) {
    throw new Error('the integration tests run runsc and need root: run `sudo npm test`');
  }
  const runtimeCommand = runtimeUnderTest();
  const runtime = new Runsc({ command: runtimeCommand });
  const version = await runtime.version().catch((error: Error) => {
    throw new Error(`the integration tests need runsc: ${error.message} (scripts/setup.sh installs it)`);
  });
  const platform = (await runtimePlatform(runtime)) ?? 'default';
  console.log(
    `[integration] runtime ${runtimeUnderTestLabel()}: ${runtimeCommand} (${version.version}, platform ${platform})`,
  );

  const runscRoot = `/run/temporal-runsc-test/${process.pid}`;
  const workDir = `/tmp/temporal-runsc-test/${process.pid}`;
  await mkdir(runscRoot, { recursive: true });
  await mkdir(workDir, { recursive: true });
  const rootfs = await ensureBusyboxRootfs();

  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: await devServerExecutable(),
      ip: '127.0.0.1',
      // The same server settings as startDevServer's (the bench's and the demo's).
      extraArgs: dynamicConfigArgs(devServerDynamicConfig),
    },
  });
  project.provide('temporalAddress', env.address);
  project.provide('runtimeCommand', runtimeCommand);
  project.provide('runtimePlatform', platform);
  project.provide('runscRoot', runscRoot);
  project.provide('rootfs', rootfs);
  project.provide('workDir', workDir);

  return async () => {
    await env.teardown();
    const suiteRuntime = new Runsc({ command: runtimeCommand, root: runscRoot });
    const left = await suiteRuntime
      .list()
      .catch((error: Error) => [{ id: `(list failed: ${error.message})`, status: '?' }]);
    const processes = await processesOfRoot(runscRoot);
    // Emptied whatever the audit finds, so that one failing run does not leave its root behind.
    const wipe = await cleanupHost(suiteRuntime, { wipe: true });
    if (left.length > 0 || processes.length > 0) {
      throw new Error(
        `the suite left state behind in ${runscRoot}: containers ${JSON.stringify(left.map((c) => `${c.id}:${c.status}`))}, processes ${JSON.stringify(processes)}`,
      );
    }
    if (!wipe.wiped) throw new Error(`could not empty ${runscRoot}: ${wipe.problems.join('; ')}`);
    await rmdir(runscRoot);
    // A root a test made in the work folder and did not remove: wiped here so that the folder
    // can go (a mounted null-netns makes `rm` fail), and reported.
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    const leftRoots = mountinfo
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((path) => path.startsWith(`${workDir}/`) && path.endsWith('/null-netns'))
      .map((path) => dirname(path));
    for (const root of leftRoots)
      await cleanupHost(new Runsc({ command: runtimeCommand, root }), { wipe: true });
    await rm(workDir, { recursive: true, force: true });
    if (leftRoots.length > 0)
      throw new Error(`tests left runtime roots in ${workDir}: ${leftRoots.join(', ')}`);
  };
}
