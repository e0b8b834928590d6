import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';

/** Connection flags, as the `temporal` CLI takes them. */
export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  profile?: string;
}

export interface ResolvedConnection {
  connectionOptions: NativeConnectionOptions;
  namespace: string;
}

/**
 * Resolves connection settings the way the Temporal CLI does: the config file profile
 * (`--profile`, TEMPORAL_PROFILE), then TEMPORAL_* variables (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS...), then the explicit flags.
 */
export function resolveConnection(flags: ConnectionFlags): ResolvedConnection {
  const config = loadClientConnectConfig(flags.profile ? { profile: flags.profile } : {});
  const connectionOptions: NativeConnectionOptions = { ...config.connectionOptions };
  if (flags.address) connectionOptions.address = flags.address;
  connectionOptions.address ??= 'localhost:7233';
  return { connectionOptions, namespace: flags.namespace ?? config.namespace ?? 'default' };
}

export async function connectClient(
  flags: ConnectionFlags,
): Promise<{ client: Client; close(): Promise<void> }> {
  const { connectionOptions, namespace } = resolveConnection(flags);
  const connection = await Connection.connect(connectionOptions as ConnectionOptions).catch(
    (error: Error) => {
      throw new Error(
        `cannot reach Temporal at ${connectionOptions.address}: ${error.message} (set --address or TEMPORAL_ADDRESS, or start one with \`temporal-runsc dev-server\`)`,
      );
    },
  );
  return { client: new Client({ connection, namespace }), close: () => connection.close() };
}

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
