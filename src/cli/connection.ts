import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
// Types only: the client commands must not load the worker SDK (its native bridge); the worker's
// connection is in worker-connection.ts.
import type { NativeConnectionOptions } from '@temporalio/worker';

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
  const config = loadConfig(flags.profile);
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

function loadConfig(profile: string | undefined): ReturnType<typeof loadClientConnectConfig> {
  try {
    return loadClientConnectConfig(profile ? { profile } : {});
  } catch (error) {
    // The SDK's own message for a file with no profiles at all is a bare TypeError.
    const file = process.env.TEMPORAL_CONFIG_FILE ?? 'the Temporal config file';
    const reason = error instanceof TypeError ? 'it has no [profile.*] tables' : (error as Error).message;
    const name = profile ?? process.env.TEMPORAL_PROFILE;
    const what = name
      ? `profile ${JSON.stringify(name)} (--profile or TEMPORAL_PROFILE)`
      : 'the connection settings';
    throw new Error(
      `cannot read ${what} from ${file}: ${reason}; add the profile there, pick another one, or give --address and --namespace instead`,
    );
  }
}
