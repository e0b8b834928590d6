import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { execa } from 'execa';
import { publish } from '../metrics/events.js';
import { type AbortReport, abortContainer, exists } from './abort.js';
import {
  type CreateOptions,
  createArgs,
  type DeleteOptions,
  deleteArgs,
  eventsStatsArgs,
  execArgs,
  flavorOf,
  globalArgs,
  type KillOptions,
  killArgs,
  listArgs,
  psArgs,
  type RuntimeFlavor,
  type RuntimeOptions,
  runArgs,
  startArgs,
  stateArgs,
  waitArgs,
} from './args.js';
import { validateContainerId } from './container-id.js';
import {
  ContainerExists,
  classifyRuntimeFailure,
  RuntimeError,
  RuntimeNotFound,
  RuntimeTimeout,
} from './errors.js';
import { type ExitStatus, runtimeErrorsFromLog, sandboxPanic, toExitStatus } from './exit-status.js';
import type { ContainerState, RuntimeVersion } from './types.js';

export interface RunOptions {
  /** Receives the container's stdout as it comes (backpressure is respected). */
  stdout?: Writable;
  /** Receives the container's stderr as it comes. */
  stderr?: Writable;
  /**
   * Where runsc writes its own JSON error log (`--log`), read back to tell a runtime failure
   * from the step's exit; left for the caller. Default: a temporary file, removed after. Output
   * logs are not this client's business (src/output): pipe the streams where they belong.
   */
  runtimeLog?: string;
  /** Called with the `run` process's PID as soon as it is spawned. */
  onStart?: (pid: number) => void;
  /** Aborting runs the abort sequence; `run` then resolves with how the container ended. */
  signal?: AbortSignal;
  /** Time the container gets between TERM and KILL when aborted. Default 3 s. */
  graceMs?: number;
}

export interface RunResult extends ExitStatus {
  stdoutBytes: number;
  stderrBytes: number;
  durationMs: number;
  /** Present when the run was aborted: the steps the abort sequence took. */
  abort?: AbortReport;
}

const defaultTimeoutMs = 10_000;
const defaultRoots: Record<RuntimeFlavor, string> = {
  runsc: '/var/run/runsc',
  runc: '/run/runc',
  crun: '/run/crun',
};

/**
 * A typed client for one runtime binary and one state root, in the spirit of containerd's
 * go-runc: global settings live here, each subcommand is one method, JSON answers come back
 * typed, failures carry the command line and the runtime's stderr. Works with runsc, runc, crun.
 */
export class Runsc {
  readonly command: string;
  readonly flavor: RuntimeFlavor;
  readonly options: Readonly<RuntimeOptions>;

  constructor(options: RuntimeOptions = {}) {
    this.options = { ...options };
    this.command = options.command ?? 'runsc';
    this.flavor = flavorOf(options);
    globalArgs(this.options); // validates the combination once, at the edge
  }

  /** The same client with another deadline for management calls. */
  withTimeout(timeoutMs: number): Runsc {
    return new Runsc({ ...this.options, timeoutMs });
  }

  get root(): string | undefined {
    return this.options.root;
  }

  async version(): Promise<RuntimeVersion> {
    const { stdout } = await this.call(['--version'], { global: false });
    const lines = stdout.trim().split('\n');
    const spec = lines
      .find((line) => line.startsWith('spec'))
      ?.split(':')[1]
      ?.trim();
    return { version: lines[0] ?? '', ...(spec ? { spec } : {}) };
  }

  async state(id: string): Promise<ContainerState> {
    const { stdout } = await this.call(stateArgs(id));
    return JSON.parse(stdout) as ContainerState;
  }

  async list(): Promise<ContainerState[]> {
    const { stdout } = await this.call(listArgs());
    const parsed = JSON.parse(stdout.trim() || 'null') as ContainerState[] | null;
    return parsed ?? [];
  }

  /** PIDs of the container's processes, as the container sees them. */
  async ps(id: string): Promise<number[]> {
    const { stdout } = await this.call(psArgs(id));
    return (JSON.parse(stdout.trim() || 'null') as number[] | null) ?? [];
  }

  async create(id: string, bundle: string, options: CreateOptions = {}): Promise<void> {
    await this.call(createArgs(id, bundle, options));
  }

  async start(id: string): Promise<void> {
    await this.call(startArgs(id));
  }

  async kill(id: string, signal: string | number, options: KillOptions = {}): Promise<void> {
    await this.call(killArgs(id, signal, options));
  }

  async delete(id: string, options: DeleteOptions = {}): Promise<void> {
    await this.call(deleteArgs(id, options));
  }

  /** Waits for a created/started container to exit and returns its exit status (runsc only). */
  async wait(id: string, timeoutMs?: number): Promise<number> {
    const { stdout } = await this.call(waitArgs(id), { timeoutMs });
    return (JSON.parse(stdout) as { exitStatus: number }).exitStatus;
  }

  /** One sample of the container's resource usage (`events --stats`). */
  async stats(id: string): Promise<Record<string, unknown>> {
    const { stdout } = await this.call(eventsStatsArgs(id));
    return JSON.parse(stdout) as Record<string, unknown>;
  }

  /** Runs a program in a running container and returns its exit code and output. */
  async exec(
    id: string,
    argv: readonly string[],
    timeoutMs?: number,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const { exitCode, stdout, stderr } = await this.call(execArgs(id, argv), {
      timeoutMs,
      allowExitCode: true,
    });
    return { exitCode, stdout, stderr };
  }

  /** True while the runtime knows the id in this root (a hung runtime counts as "yes"). */
  exists(id: string): Promise<boolean> {
    return exists(this, id);
  }

  /**
   * Runs the abort sequence against a container that no child of ours is attached to (left by
   * a crashed worker, say): TERM, grace, KILL, `delete --force`, confirm gone.
   */
  abort(id: string, options: { graceMs?: number } = {}): Promise<AbortReport> {
    return abortContainer(this, id, options);
  }

  /**
   * `run --bundle <bundle> <id>`, attached: resolves when the container has ended, with its exit
   * status. Whatever happens (normal exit, runtime failure, abort, the `run` process killed), no
   * state is left for the id. An id that is taken is refused with `ContainerExists`, and the
   * container holding it is left alone: it is not ours.
   */
  async run(id: string, bundle: string, options: RunOptions = {}): Promise<RunResult> {
    const startedAt = Date.now();
    const subcommand = runArgs(id, bundle);
    // runsc's own refusal is not enough: in this build a failed second `run` removes the
    // holder's state, and one against a running id wipes it. Check first, without touching it.
    if (await this.hasState(id)) {
      throw new ContainerExists(
        `container ${id} already exists in ${this.stateRoot}: use a new id, or delete it first`,
        {
          command: [this.command, ...subcommand],
        },
      );
    }
    // runsc's own errors, read back to tell "runsc failed" from "the step exited 128".
    const runtimeLog =
      options.runtimeLog ??
      join(tmpdir(), `temporal-runsc-${id}-${randomBytes(4).toString('hex')}.runtime.json`);
    // A sandbox that panics (a fork bomb can make it) says so only in its panic log, and runsc
    // then exits with a small code that would pass for the step's own.
    const panicLog = `${runtimeLog}.panic`;
    const panicArgs = this.flavor === 'runsc' ? [`--panic-log=${panicLog}`] : [];
    const args = [...globalArgs(this.options, runtimeLog), ...panicArgs, ...subcommand];
    await rm(runtimeLog, { force: true });

    const child = execa(this.command, args, {
      stdin: 'ignore',
      buffer: false,
      reject: false,
      // The container ends through the runtime (see abort); never let execa signal `run`.
      cleanup: false,
      // A process group of its own (go-runc's Setpgid; here setsid, which also makes a group):
      // a signal to the worker's group (Ctrl-C in a terminal) reached `run` and its gofer too,
      // which ended the container before the worker could abort it with its grace (measured:
      // a step trapping TERM never ran its trap). The worker alone gets it, and aborts through
      // the runtime. Pipes, the exit status and reaping are the same for a detached child.
      detached: true,
    });
    if (child.pid !== undefined) options.onStart?.(child.pid);

    const counts = { stdout: 0, stderr: 0 };
    const drains: Promise<unknown>[] = [];
    for (const name of ['stdout', 'stderr'] as const) {
      const stream = child[name];
      if (!stream) continue;
      stream.on('data', (chunk: Buffer) => {
        counts[name] += chunk.length;
      });
      const target = options[name];
      if (target) stream.pipe(target, { end: false });
      drains.push(new Promise((resolve) => stream.once('close', resolve)));
    }

    let exited = false;
    const exitedPromise = child.then(() => {
      exited = true;
    });
    let abortReport: AbortReport | undefined;
    let aborting: Promise<void> | undefined;
    const onAbort = () => {
      aborting ??= abortContainer(this, id, {
        graceMs: options.graceMs,
        waitForExit: (ms) => raceTimeout(exitedPromise, ms).then(() => exited),
        killChild: () => child.kill('SIGKILL'),
      }).then((report) => {
        abortReport = report;
      });
      // Awaited below, once `run` has exited; until then a failure must not go unhandled.
      aborting.catch(() => undefined);
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    try {
      const result = await child;
      await Promise.all(drains);
      if (aborting) await aborting;
      if (result.failed && result.exitCode === undefined && result.signal === undefined) {
        const error = new RuntimeNotFound(
          `cannot start ${this.command}: ${result.originalMessage ?? result.shortMessage}`,
          { command: [this.command, ...args], cause: result },
        );
        throw error;
      }
      const logText = await readFile(runtimeLog, 'utf8').catch(() => '');
      const panicText = await readFile(panicLog, 'utf8').catch(() => '');
      if (!options.runtimeLog) await rm(runtimeLog, { force: true });
      await rm(panicLog, { force: true });
      const panic = sandboxPanic(panicText);
      const status = toExitStatus(result, [...runtimeErrorsFromLog(logText), ...(panic ? [panic] : [])]);
      if (status.runtimeError && /container already exists/.test(status.runtimeError)) {
        throw new ContainerExists(`container ${id} already exists in ${this.root ?? 'the default root'}`, {
          command: [this.command, ...args],
          exitCode: status.exitCode,
          stderr: status.runtimeError,
        });
      }
      // A `run` that did not end normally (killed, or the runtime failed half-way) can leave the
      // container listed as `stopped`, which would make the id unusable: remove it.
      if (!abortReport && (result.signal || status.runtimeError) && (await this.exists(id))) {
        await this.delete(id, { force: true }).catch(() => undefined);
      }
      return {
        ...status,
        stdoutBytes: counts.stdout,
        stderrBytes: counts.stderr,
        durationMs: Date.now() - startedAt,
        ...(abortReport ? { abort: abortReport } : {}),
      };
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The state directory this client works in (the runtime's default when none is set). */
  get stateRoot(): string {
    return this.options.root ?? defaultRoots[this.flavor];
  }

  /**
   * Whether the id is in use, read from the state directory (no runtime call, so the happy path
   * stays cheap, and a hung runtime cannot block it); when the folder cannot be read, the
   * runtime is asked with `state`.
   */
  async hasState(id: string): Promise<boolean> {
    validateContainerId(id);
    const entries: string[] | undefined = await readdir(this.stateRoot).catch(
      (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : undefined),
    );
    if (entries === undefined) return this.exists(id);
    if (this.flavor === 'runsc') return entries.some((name) => name.startsWith(`${id}_sandbox:`));
    return entries.includes(id);
  }

  /** Runs one management subcommand with a deadline and turns failures into typed errors. */
  private async call(
    subcommand: readonly string[],
    options: { global?: boolean; timeoutMs?: number; allowExitCode?: boolean } = {},
  ): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const args = [...(options.global === false ? [] : globalArgs(this.options)), ...subcommand];
    const command = [this.command, ...args];
    const timeout = options.timeoutMs ?? this.options.timeoutMs ?? defaultTimeoutMs;
    const calledAt = performance.now();
    const result = await execa(this.command, args, {
      reject: false,
      timeout,
      // A runtime blocked on a lock does not answer TERM promptly; it holds no state of its own.
      killSignal: 'SIGKILL',
      stdin: 'ignore',
    });
    publish('runtimeCall', {
      command: subcommand[0] ?? '',
      durationMs: performance.now() - calledAt,
      outcome: result.timedOut ? 'timeout' : result.exitCode === 0 ? 'ok' : 'error',
    });
    const stderr = String(result.stderr ?? '').trim();
    if (result.timedOut) {
      throw new RuntimeTimeout(`${subcommand[0]} did not answer within ${timeout} ms`, {
        command,
        stderr,
      });
    }
    if (result.exitCode === undefined) {
      if (result.code === 'ENOENT' || result.code === 'EACCES') {
        throw new RuntimeNotFound(
          `cannot start ${this.command} (${result.code}): install it or set the runtime command path`,
          { command, cause: result },
        );
      }
      throw new RuntimeError(`${subcommand[0]} was ended by ${result.signal ?? 'an error'}`, {
        command,
        stderr,
        cause: result,
      });
    }
    if (result.exitCode !== 0 && !options.allowExitCode) {
      throw classifyRuntimeFailure(
        `${subcommand[0]} failed with exit code ${result.exitCode}: ${lastLine(stderr)}`,
        { command, exitCode: result.exitCode, stderr },
      );
    }
    return { stdout: String(result.stdout ?? ''), stderr, exitCode: result.exitCode };
  }
}

function lastLine(text: string): string {
  return text.split('\n').filter(Boolean).at(-1) ?? '(no output)';
}

async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

export { RuntimeError };
