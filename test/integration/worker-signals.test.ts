import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPipeline } from '../../src/client/index.js';
import { processesOfRoot } from '../../src/host/processes.js';
import { testRuntime } from '../support/runtime.js';
import { testWorkerCliSettings, waitForRunningStep, waitForText } from '../support/worker.js';
import { startWorkerCli } from '../support/worker-cli.js';

const runtime = testRuntime();
let connection: Connection;
let client: Client;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
});

afterAll(async () => {
  await connection?.close();
});

describe('SIGINT to the worker process group (Ctrl-C)', () => {
  it('reaches the worker alone: the step is aborted with TERM, its trap runs, nothing is left', async () => {
    const own = testWorkerCliSettings('sigint');
    // Detached: the worker leads its own process group, as a shell's foreground job does.
    const worker = await startWorkerCli(own, { detached: true, what: 'the sigint worker' });
    let handle: Awaited<ReturnType<typeof startPipeline>> | undefined;
    try {
      handle = await startPipeline(
        client,
        {
          name: 'sigint',
          steps: [
            {
              name: 'trapper',
              args: [
                '/bin/sh',
                '-c',
                "trap 'echo trapped; exit 0' TERM; echo ready; while true; do sleep 0.1; done",
              ],
              retry: { maximumAttempts: 1 },
            },
          ],
        },
        { taskQueue: own.taskQueue },
      );
      const step = await waitForRunningStep(handle, 'trapper');
      const containerId = step.containerId as string;
      const log = join(own.workDir, 'logs', `${containerId}.log`);
      await waitForText(log, 'ready');

      process.kill(-worker.pid, 'SIGINT');
      const exit = await worker.exited;

      expect(await readFile(log, 'utf8')).toContain('trapped');
      expect(exit).toEqual({ exitCode: 0, signal: undefined });
      expect(await runtime.exists(containerId)).toBe(false);
      expect(await processesOfRoot(own.root)).toEqual([]);
    } finally {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        worker.child.kill('SIGKILL');
        await worker.exited;
      }
      await handle?.terminate('test over').catch(() => undefined);
    }
  });
});
