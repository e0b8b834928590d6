#!/usr/bin/env -S node --max-semi-space-size=2
// A small young generation keeps a worker's memory low (V8's default semi-space of 16 MiB grows
// to fill under load): measured with `npm run bench -- --only rss`, a worker at 16 running
// containers held 216 MiB with the default and 177 MiB with this, its garbage collection still
// keeping pace with 1 GiB of step output. `env -S` passes the flag (GNU coreutils >= 8.30).
import type { LogLevel } from '@temporalio/worker';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { durationMs } from '../pipeline/duration.js';
import { defaultTaskQueue } from '../task-queue.js';
// Types only, and light modules: `--help`, `status` and `cancel` must not load the worker SDK
// (its native bridge), the runtime or the bundler. Each command loads its own modules when it
// runs (await import() in its action); test/unit/light-imports.test.ts checks what is loaded.
import type { CleanupFlags } from './commands/cleanup.js';
import type { DemoFlags } from './commands/demo.js';
import type { LogsFlags } from './commands/logs.js';
import type { RunFlags } from './commands/pipeline.js';
import type { WorkerFlags } from './commands/worker.js';
import type { ConnectionFlags } from './connection.js';
import { workerFaultExitCode } from './exit-codes.js';

const defaultRoot = '/run/temporal-runsc';
const defaultWorkDir = '/var/lib/temporal-runsc';

/** A duration option (`30s`, `5m`, `1h`, or milliseconds), in milliseconds. */
function duration(value: string): number {
  const ms = durationMs(/^\d+$/.test(value) ? Number(value) : value);
  if (ms === undefined || ms < 0) {
    throw new InvalidArgumentError('must be a duration such as 500ms, 30s, 5m or 1h (or milliseconds)');
  }
  return ms;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of 1 or more');
  return n;
}

/** `HOST:PORT` (an IPv6 host in brackets), as the metrics exporter binds it. */
function hostPort(value: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) {
    throw new InvalidArgumentError('must be HOST:PORT, such as 127.0.0.1:9464 or 0.0.0.0:9464');
  }
  return value;
}

/** A repeatable option's values, in order. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `--allow-network`'s values, repeatable. (commander's `.choices()` is dropped once an
 * `.argParser()` follows it, so the check is made here.)
 */
function collectNetworkMode(value: string, previous: string[] = []): string[] {
  const modes = ['sandbox', 'host'];
  if (!modes.includes(value)) {
    throw new InvalidArgumentError(
      `must be one of ${modes.join(', ')} (steps always may have none): fix --allow-network ${value}`,
    );
  }
  return [...previous, value];
}

/** Connection options as the `temporal` CLI takes them; environment variables fill the rest. */
function withConnection(command: Command): Command {
  return command
    .addOption(new Option('--address <host:port>', 'Temporal frontend address').env('TEMPORAL_ADDRESS'))
    .addOption(new Option('-n, --namespace <name>', 'Temporal namespace').env('TEMPORAL_NAMESPACE'))
    .addOption(
      new Option('--profile <name>', 'profile of the Temporal config file (TLS, API key...)').env(
        'TEMPORAL_PROFILE',
      ),
    );
}

function withRuntime(command: Command): Command {
  return command
    .option('--root <dir>', 'runtime state directory', defaultRoot)
    .option('--runtime <path>', 'runtime binary (runsc, runc or crun)', 'runsc');
}

/** Runs an action and turns its number into the exit status; errors print one line, not a stack. */
function exitWith<A extends unknown[]>(action: (...args: A) => Promise<number | undefined>) {
  return async (...args: A) => {
    try {
      process.exitCode = (await action(...args)) ?? 0;
    } catch (error) {
      console.error(`temporal-runsc: ${(error as Error).message}`);
      // Exit now: a worker refused after the SDK's runtime was installed would otherwise stay up
      // (its native runtime and signal handlers keep the process alive) and ignore SIGTERM.
      // stderr is written synchronously to files, pipes and terminals on Linux.
      process.exit(2);
    }
  };
}

const program = new Command('temporal-runsc')
  .description('Run Temporal workflow steps in gVisor sandboxes: workers, pipelines, cleanup.')
  .showHelpAfterError('(add --help for usage)')
  // Commander's errors are thrown rather than exiting, so a bad option value can exit 2, as bad
  // input does everywhere else (subcommands inherit this); see the end of this file.
  .exitOverride();

withRuntime(
  withConnection(
    program.command('worker').description('run a sandbox worker on this host until SIGINT/SIGTERM'),
  ),
)
  .option('--platform <name>', 'runsc platform (ptrace, systrap; kvm hangs on many VMs)')
  .option('--network <mode>', 'runsc network: none, sandbox or host', 'none')
  .option('--work-dir <dir>', 'bundles and output logs', defaultWorkDir)
  .option(
    '--rootfs <dir>',
    'default root filesystem for steps (built with `temporal-runsc demo` or scripts/setup.sh)',
  )
  .option('--concurrency <n>', 'containers at once', positiveInt, 8)
  .option('--task-queue <name>', 'shared task queue', defaultTaskQueue)
  .option('--host-queue <name>', "this host's own queue (default <task-queue>@<hostname>)")
  .option('--host <name>', 'host name in heartbeats and results')
  .option('--grace-ms <ms>', 'how long an aborted step gets between TERM and KILL', positiveInt, 2000)
  .option(
    '--drain-timeout <duration>',
    'on SIGTERM/SIGINT, take no new steps and let running ones finish for up to this long (e.g. 10m) before aborting them (default 1s)',
    duration,
  )
  .option(
    '--workflow-bundle <file>',
    'serve this prebuilt workflow code (from `temporal-runsc bundle-workflows`) instead of bundling at start',
  )
  .option('--json', 'print one JSON line on stdout once polling starts: {"ready":true,"host",...,"sweep"}')
  // The sandbox policy: what steps may ask for (README, "Security model"). The file is the main interface;
  // each flag only adds to it.
  .option('--policy <file>', 'sandbox policy (YAML or JSON): mounts, rootfs, users, limits, network, secrets')
  .option(
    '--allow-mount-ro <path>',
    'steps may bind this host path (or below it) read-only; repeatable',
    collect,
    [],
  )
  .option(
    '--allow-mount-rw <path>',
    'steps may bind this host path (or below it) read-write; repeatable',
    collect,
    [],
  )
  .option(
    '--allow-rootfs <path>',
    "steps may ask for this root filesystem (besides the worker's own); repeatable",
    collect,
    [],
  )
  .option(
    '--allow-network <mode>',
    'steps may ask for this network mode (sandbox or host); repeatable',
    collectNetworkMode,
    [],
  )
  .option('--secrets-dir <dir>', 'secret store: one root-owned file per secret, in a folder closed to others')
  .option('--allow-weak-runtime', 'run steps under runc or crun (they share the host kernel)')
  .addOption(
    new Option('--log-level <level>', 'Temporal SDK log level')
      .choices(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'])
      .default('INFO'),
  )
  .option(
    '--metrics-address <host:port>',
    "serve Prometheus metrics (the SDK's and temporal_runsc_*) at http://HOST:PORT/metrics",
    hostPort,
  )
  .addHelpText(
    'after',
    `
Stopping: SIGTERM or SIGINT (Ctrl-C) stops taking new steps; running steps get --drain-timeout
to finish, then are aborted (TERM, --grace-ms, KILL, confirmed gone), and the worker exits 0.
runsc runs in process groups of its own, so a Ctrl-C reaches the worker alone. Under systemd,
use KillMode=mixed and TimeoutStopSec above the drain timeout plus the grace (deploy/).

One worker per --root: the worker holds a lock on its root while it runs, and a second one on
the same root is refused at start (naming the holder's pid).

If any of its internal workers (shared queue, host queue, control queue) stops or fails on its
own, the worker stops the others, aborts its running steps and exits ${workerFaultExitCode} for its supervisor
to restart it. Bad input exits 2.`,
  )
  .action(
    exitWith(async (flags: WorkerFlags & { logLevel: LogLevel }) => {
      const [{ installSdkLogger }, { workerCommand }] = await Promise.all([
        import('./logging.js'),
        import('./commands/worker.js'),
      ]);
      installSdkLogger(flags.logLevel, flags.metricsAddress);
      await workerCommand(flags);
      return 0;
    }),
  );

withConnection(
  program.command('run').description('validate a pipeline file (YAML or JSON), start it, follow it'),
)
  .argument('<file>', 'pipeline file')
  .option('--workflow-id <id>', 'workflow id (default: <name>-<time>-<random>)')
  .option('--task-queue <name>', 'shared task queue', defaultTaskQueue)
  .option('--detach', 'print the workflow id and return at once')
  .option('--json', 'print the result as one JSON object')
  .action(
    exitWith(async (file: string, flags: RunFlags) =>
      (await import('./commands/pipeline.js')).runCommand(file, flags),
    ),
  );

withConnection(program.command('status').description("show a pipeline's steps"))
  .argument('<workflowId>')
  .option('--json', 'print JSON')
  .action(
    exitWith(async (id: string, flags: ConnectionFlags & { json?: boolean }) =>
      (await import('./commands/pipeline.js')).statusCommand(id, flags),
    ),
  );

withConnection(
  program.command('cancel').description('cancel a pipeline: abort its containers, run its finally steps'),
)
  .argument('<workflowId>')
  .action(
    exitWith(async (id: string, flags: ConnectionFlags) =>
      (await import('./commands/pipeline.js')).cancelCommand(id, flags),
    ),
  );

withConnection(
  program
    .command('logs')
    .description("print a step's output, from the host that ran it (while it runs, and after)"),
)
  .argument('<workflowId>')
  .argument('[step]', 'the step (default: the one started last)')
  .option('-f, --follow', 'keep printing new output until the step ends, its retries included')
  .option('--attempt <n>', 'this attempt (default: the latest)', positiveInt)
  .option('--stderr', 'print its stderr instead of its stdout')
  .option('--all', 'print stdout and stderr, in the order they came')
  .option('--timestamps', 'start each line with the time the worker received it')
  .addHelpText(
    'after',
    `
Each read is a short workflow of its own on the pipeline's task queue, answered by the host's
worker: no port to open, and the pipeline's history does not grow. Exits 1 when the log is gone
(past the host's retention) or its host does not answer, 2 for bad input.`,
  )
  .action(
    exitWith(async (id: string, step: string | undefined, flags: LogsFlags) => {
      const { logsCommand } = await import('./commands/logs.js');
      return logsCommand(id, step, flags);
    }),
  );

withRuntime(program.command('cleanup').description("clear this host's stuck runtime state and report it"))
  .option('--wipe', 'also empty the state directory (refused while a sandbox of this root runs)')
  .option('--json', 'print the report as JSON')
  .action(
    exitWith(async (flags: CleanupFlags) => (await import('./commands/cleanup.js')).cleanupCommand(flags)),
  );

program
  .command('bundle-workflows')
  .description(
    "write this package's workflow code as one prebuilt bundle, for `worker --workflow-bundle`: workers start faster, use less memory, and all run the same code",
  )
  .argument('<file>', 'where to write the bundle (.js)')
  .action(
    exitWith(async (file: string) => {
      const [{ resolve }, { writeWorkflowBundle }] = await Promise.all([
        import('node:path'),
        import('../worker/bundle.js'),
      ]);
      const { path, bytes } = await writeWorkflowBundle(resolve(file));
      console.error(`wrote ${path} (${(bytes / 1024).toFixed(0)} KiB)`);
      return 0;
    }),
  );

program
  .command('dev-server')
  .description('run a local Temporal dev server in the foreground, with its web UI')
  .option('--port <n>', 'gRPC port', positiveInt, 7233)
  .option('--ui-port <n>', 'web UI port', positiveInt, 8233)
  .option('--db-file <path>', 'persist to this SQLite file', 'temporal-runsc-dev.db')
  .action(
    exitWith(async (flags: { port: number; uiPort: number; dbFile: string }) =>
      (await import('./commands/dev-server.js')).devServerCommand(flags),
    ),
  );

program
  .command('demo')
  .description('start a dev server (unless --address) and a worker, and run the example pipeline')
  .addOption(new Option('--address <host:port>', 'use this Temporal server instead of starting one'))
  .option('--port <n>', 'port for the dev server it starts', positiveInt, 7233)
  .option('--root <dir>', 'runtime state directory', `${defaultRoot}/demo`)
  .option('--work-dir <dir>', 'bundles, logs and the dev server database', `${defaultWorkDir}/demo`)
  .option('--json', 'print the result as one JSON object')
  .option('--keep-server', 'keep the dev server and its web UI up afterwards, until Ctrl-C')
  .action(
    exitWith(async (flags: DemoFlags) => {
      const [{ installSdkLogger }, { demoCommand }] = await Promise.all([
        import('./logging.js'),
        import('./commands/demo.js'),
      ]);
      installSdkLogger('ERROR');
      return demoCommand(flags);
    }),
  );

try {
  await program.parseAsync();
} catch (error) {
  // Commander has printed its message already; help and --version end here too, with 0.
  if (!(error instanceof CommanderError)) throw error;
  process.exitCode = error.code === 'commander.invalidArgument' ? 2 : error.exitCode;
}
