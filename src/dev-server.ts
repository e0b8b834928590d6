import { access, constants, mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { cacheDir } from './rootfs.js';

/** The Temporal CLI release scripts/setup.sh builds; bump both together. */
export const pinnedTemporalCliVersion = 'v1.5.1';

/**
 * The `temporal` binary that serves as the local dev server: `TEMPORAL_CLI_PATH` if set, else the
 * one scripts/setup.sh built into the cache. Undefined when neither exists, in which case
 * callers fall back to @temporalio/testing's own download (which needs internet).
 */
export async function findTemporalCli(): Promise<string | undefined> {
  const candidates = [
    process.env.TEMPORAL_CLI_PATH,
    join(cacheDir(), 'bin', `temporal-${pinnedTemporalCliVersion}`),
  ].filter((path): path is string => Boolean(path));
  for (const candidate of candidates) {
    const usable = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (usable) return candidate;
  }
  return undefined;
}

/** The `executable` option of `TestWorkflowEnvironment.createLocal` for this machine. */
export async function devServerExecutable(): Promise<
  { type: 'existing-path'; path: string } | { type: 'cached-download' }
> {
  const path = await findTemporalCli();
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}

export interface DevServerOptions {
  /** gRPC port. Default 7233. */
  port?: number;
  /** Web UI port. Default port + 1000. */
  uiPort?: number;
  /** Persist to this SQLite file; in memory when not given. */
  dbFile?: string;
  /** Bind address. Default 127.0.0.1. */
  ip?: string;
  headless?: boolean;
  /** Inherit stdio (foreground use); otherwise output is discarded. */
  foreground?: boolean;
  /** Server dynamic config, on top of devServerDynamicConfig. */
  dynamicConfig?: Record<string, string | number | boolean>;
}

/**
 * The dev server runs one history shard, and each shard reads its queues of pending tasks at
 * most 20 times a second by default. On a cluster that limit is per shard of hundreds; here it
 * serialises every workflow: it put about 30 ms on each hand-off (workflow task, activity task,
 * the task after an activity) of every step, measured with a one-activity workflow: 150 ms end
 * to end with the default, 56 ms with this.
 */
export const devServerDynamicConfig: Readonly<Record<string, number>> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
};

/** `--dynamic-config-value key=value` pairs for the dev server (values as JSON). */
export function dynamicConfigArgs(config: Record<string, string | number | boolean>): string[] {
  return Object.entries(config).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  /** Stops the server (TERM, then KILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Resolves when the server process exits. */
  exited: Promise<unknown>;
}

/**
 * Starts the Temporal dev server (the `temporal` CLI's `server start-dev`) and waits until it
 * accepts connections. Needs the binary scripts/setup.sh builds, or TEMPORAL_CLI_PATH.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const binary = await findTemporalCli();
  if (!binary) {
    throw new Error(
      'no Temporal dev server binary: run scripts/setup.sh (builds it with Go), or set TEMPORAL_CLI_PATH to a `temporal` CLI',
    );
  }
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? port + 1000;
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--log-level', 'error'];
  args.push(...dynamicConfigArgs({ ...devServerDynamicConfig, ...options.dynamicConfig }));
  if (options.headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  if (options.dbFile) await mkdir(dirname(options.dbFile), { recursive: true });
  const child = execa(binary, args, {
    stdin: 'ignore',
    stdout: options.foreground ? 'inherit' : 'ignore',
    stderr: options.foreground ? 'inherit' : 'pipe',
    buffer: false,
    reject: false,
    cleanup: true,
  });
  // Keep the end of what the server says, to explain a failed start.
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-2000);
  });
  const exited = child.then((result) => result);
  const address = `${ip}:${port}`;
  await waitForPort(ip, port, 30_000, exited, () => stderrTail);
  return {
    address,
    ...(options.headless ? {} : { uiUrl: `http://${ip}:${uiPort}` }),
    exited,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  exited: Promise<unknown>,
  output: () => string,
): Promise<void> {
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (dead) {
      const said = output().trim().split('\n').slice(-3).join(' | ');
      throw new Error(
        `the Temporal dev server exited at start (is port ${port} in use?): ${said || 'no output'}`,
      );
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port }, () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`the Temporal dev server did not listen on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
