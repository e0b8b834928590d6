import { NativeConnection } from '@temporalio/worker';
import { type ConnectionFlags, resolveConnection } from './connection.js';

/** The worker's connection (the SDK's native one), resolved as the client's is. */
export async function connectWorker(
  flags: ConnectionFlags,
): Promise<{ connection: NativeConnection; namespace: string }> {
  const { connectionOptions, namespace } = resolveConnection(flags);
  const connection = await NativeConnection.connect(connectionOptions).catch((error: Error) => {
    throw new Error(
      `cannot reach Temporal at ${connectionOptions.address}: ${error.message} (set --address or TEMPORAL_ADDRESS)`,
    );
  });
  return { connection, namespace };
}
