import { resolve } from 'node:path';
import { startDevServer } from '../../dev-server.js';

/** `dev-server`: the Temporal dev server in the foreground, persisting to a file, until Ctrl-C. */
export async function devServerCommand(flags: {
  port: number;
  uiPort: number;
  dbFile: string;
}): Promise<number> {
  const server = await startDevServer({
    port: flags.port,
    uiPort: flags.uiPort,
    dbFile: resolve(flags.dbFile),
    foreground: true,
  });
  console.error(
    `Temporal dev server at ${server.address}, web UI ${server.uiUrl}, data in ${resolve(flags.dbFile)}`,
  );
  const stop = () => void server.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await server.exited;
  return 0;
}
