/**
 * One real Temporal dev server and one runsc state root for the whole suite. The integration
 * tests need root and runsc: without them this fails loudly instead of skipping. At the end it
 * audits what a user relies on: `runsc list` on the test root is empty and no sandbox process
 * of that root is left.
 */
import { mkdir, rm } from 'node:fs/promises';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TestProject } from 'vitest/node';
import { devServerDynamicConfig, devServerExecutable, dynamicConfigArgs } from '../../src/dev-server.js';
import { processesOfRoot } from '../../src/host/processes.js';
import { ensureBusyboxRootfs } from '../../src/rootfs.js';
import { Runsc } from '../../src/runtime/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    runscRoot: string;
    rootfs: string;
    workDir: string;
  }
}

export default async function setup(project: TestProject) {
  if (process.getuid?.() !== 0) {
    throw new Error('the integration tests run runsc and need root: run `sudo npm test`');
  }
  const runtime = new Runsc();
  await runtime.version().catch((error: Error) => {
    throw new Error(`the integration tests need runsc: ${error.message} (scripts/setup.sh installs it)`);
  });

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
  project.provide('runscRoot', runscRoot);
  project.provide('rootfs', rootfs);
  project.provide('workDir', workDir);

  return async () => {
    await env.teardown();
    const left = await new Runsc({ root: runscRoot }).list();
    const processes = await processesOfRoot(runscRoot);
    if (left.length > 0 || processes.length > 0) {
      throw new Error(
        `the suite left state behind in ${runscRoot}: containers ${JSON.stringify(left.map((c) => `${c.id}:${c.status}`))}, processes ${JSON.stringify(processes)}`,
      );
    }
    await rm(runscRoot, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  };
}
