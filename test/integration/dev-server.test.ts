import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { expect, inject, it } from 'vitest';

it('the real dev server runs a workflow end to end', async () => {
  const address = inject('temporalAddress');
  const taskQueue = `smoke-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../support/smoke-workflows.ts', import.meta.url)),
  });
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    const result = await worker.runUntil(
      client.workflow.execute('greet', { taskQueue, workflowId: taskQueue, args: ['sandbox'] }),
    );
    expect(result).toBe('hello, sandbox');
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
});
