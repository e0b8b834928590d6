import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { PipelineInput } from '../../../workflows/types.js';
import { type DevServer, startDevServer } from '../../dev-server.js';
import { processesOfRoot } from '../../host/processes.js';
import { cacheDir, ensureBusyboxRootfs } from '../../rootfs.js';
import { Runsc } from '../../runtime/runsc.js';
import { createSandboxWorker } from '../../worker/index.js';
import { runPipeline } from './pipeline.js';

export interface DemoFlags {
  address?: string;
  port: number;
  root: string;
  workDir: string;
  json?: boolean;
  /** Keep the dev server (and its web UI) up after the pipeline, until Ctrl-C. */
  keepServer?: boolean;
}

/** The demo's image: an OCI layout that scripts/setup.sh builds from the busybox root filesystem. */
export function demoImageLayout(): string {
  return join(cacheDir(), 'images', 'demo');
}

/**
 * The example pipeline, every step from the demo image: its own command (no args), success, a
 * retry that heals, a timeout, a result passed on, and a finally step.
 */
export function demoPipeline(stateDir: string, image = `oci:${demoImageLayout()}:busybox`): PipelineInput {
  return {
    name: 'demo',
    defaults: { image, retry: { maximumAttempts: 3, initialInterval: '200ms' }, heartbeatTimeout: '5s' },
    steps: [
      // No args: the image's own Cmd runs, with its Env.
      { name: 'hello' },
      {
        name: 'build',
        args: [
          '/bin/sh',
          '-c',
          'echo building app; echo \'{"version":"1.4.2","artifact":"app.tar"}\' > /out/result.json',
        ],
      },
      {
        name: 'flaky-fetch',
        args: [
          '/bin/sh',
          '-c',
          'if [ ! -e /state/fetched-once ]; then touch /state/fetched-once; echo "network blip, try again" >&2; exit 75; fi; echo fetched dependencies',
        ],
        mounts: [{ source: stateDir, destination: '/state', readOnly: false }],
      },
      {
        name: 'test-unit',
        group: 'checks',
        // A result goes into a script through env: as data (see workflows/references.ts).
        args: ['/bin/sh', '-c', 'echo "testing version $VERSION"'],
        env: { VERSION: '${steps.build.result.version}' },
      },
      {
        name: 'test-slow',
        group: 'checks',
        args: ['/bin/sleep', '30'],
        timeout: '2s',
        retry: { maximumAttempts: 1 },
        continueOnError: true,
      },
    ],
    finally: [
      {
        name: 'report',
        args: ['/bin/sh', '-c', 'echo "build exited ${steps.build.exitCode}, shipped $ARTIFACT"'],
        env: { ARTIFACT: '${steps.build.result.artifact}' },
      },
    ],
  };
}

/**
 * The whole product on one machine: a dev server (unless --address), a worker, the busybox
 * rootfs, and the example pipeline; then the summary, the web UI address, and a check that no
 * container is left.
 */
export async function demoCommand(flags: DemoFlags): Promise<number> {
  const started = Date.now();
  const rootfs = await ensureBusyboxRootfs();
  if (!existsSync(join(demoImageLayout(), 'index.json'))) {
    console.error(
      `the demo image is missing (${demoImageLayout()}): run scripts/setup.sh (npm run demo does)`,
    );
    return 1;
  }
  let server: DevServer | undefined;
  let address = flags.address;
  if (!address) {
    server = await startDevServer({ port: flags.port, dbFile: join(flags.workDir, 'demo-temporal.db') });
    address = server.address;
    console.error(`started a Temporal dev server at ${address} (web UI ${server.uiUrl})`);
  }
  const stateDir = join(flags.workDir, 'demo-state');
  await rm(stateDir, { recursive: true, force: true });
  await mkdir(stateDir, { recursive: true });

  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const runtime = new Runsc({ root: flags.root, network: 'none' });
  const worker = await createSandboxWorker({
    connection: nativeConnection,
    taskQueue: 'temporal-runsc-demo',
    runtime,
    workDir: flags.workDir,
    rootfs,
    // The flaky step keeps its state here, inside the work dir: so the policy names it exactly.
    // Steps run from the demo image's layout: the only image folder allowed, no registry.
    policy: { mounts: { readWrite: [stateDir] }, images: { layouts: [demoImageLayout()] } },
  });
  try {
    const result = await worker.runUntil(
      runPipeline(client, demoPipeline(stateDir), { taskQueue: worker.taskQueue, json: flags.json }),
    );
    const left = await runtime.list();
    const processes = await processesOfRoot(flags.root);
    console.error(
      `\nrunsc list on ${flags.root}: ${left.length === 0 ? 'empty' : left.map((c) => `${c.id} ${c.status}`).join(', ')}; sandbox processes left: ${processes.length}`,
    );
    if (server?.uiUrl) {
      console.error(`web UI: ${server.uiUrl}/namespaces/default/workflows/${result?.workflowId ?? ''}`);
    }
    console.error(`demo took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (server && flags.keepServer) {
      console.error('the dev server keeps running for the web UI: Ctrl-C to stop it');
      await new Promise((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    } else if (server) {
      console.error('(the dev server stops now; add --keep-server to browse the run in the web UI)');
    }
    return result?.status === 'completed' && left.length === 0 && processes.length === 0 ? 0 : 1;
  } finally {
    await connection.close();
    await nativeConnection.close();
    await server?.stop();
  }
}
