/**
 * The Temporal dev server the chaos suite runs against: its own, persisting to a file so that
 * the server-restart scenario can stop it and bring it back with the same history; or one the
 * caller already runs (the vitest short version), which cannot be restarted.
 */
import { createServer } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { type DevServer, startDevServer } from '../src/dev-server.js';

export interface ChaosServer {
  address: string;
  client: Client;
  /** Stops the server, waits `downMs`, starts it again on the same port and file. */
  restart?: (downMs: number) => Promise<void>;
  close(): Promise<void>;
}

/** Starts a headless dev server on the first free port from `preferredPort`, persisting to `dbFile`. */
export async function startChaosServer(options: {
  dbFile: string;
  preferredPort?: number;
}): Promise<ChaosServer> {
  const port = await firstFreePort(options.preferredPort ?? 27233);
  const start = () => startDevServer({ port, headless: true, dbFile: options.dbFile });
  let server: DevServer = await start();
  const connection = await Connection.connect({ address: server.address });
  return {
    address: server.address,
    client: new Client({ connection }),
    async restart(downMs) {
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      server = await start();
    },
    async close() {
      await connection.close().catch(() => undefined);
      await server.stop();
    },
  };
}

/** A server someone else runs (its lifetime is theirs): only a client is opened. */
export async function existingChaosServer(address: string): Promise<ChaosServer> {
  const connection = await Connection.connect({ address });
  return {
    address,
    client: new Client({ connection }),
    async close() {
      await connection.close().catch(() => undefined);
    },
  };
}

async function firstFreePort(from: number): Promise<number> {
  for (let port = from; port < from + 100; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port between ${from} and ${from + 99} for the dev server`);
}
