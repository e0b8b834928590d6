/**
 * Pure functions that turn options into runtime arguments, in one place (as go-runc does), so
 * that every flag the runtime sees can be unit-tested without running it.
 */
import { basename } from 'node:path';
import { validateContainerId } from './container-id.js';
import { InvalidRuntimeInput } from './errors.js';

/** Which runtime family the binary belongs to: runsc has flags the OCI runtimes lack. */
export type RuntimeFlavor = 'runsc' | 'runc' | 'crun';

export interface RuntimeOptions {
  /** Path or name of the runtime binary: `runsc` (default), `runc` or `crun` work alike. */
  command?: string;
  /** Which flags to use; guessed from the binary's name when not given. */
  flavor?: RuntimeFlavor;
  /** State directory (`--root`). Each root is its own world: list and cleanup see only it. */
  root?: string;
  /** runsc `--platform` (`ptrace`, `systrap`, `kvm`). */
  platform?: string;
  /** runsc `--network` (`none`, `sandbox`, `host`). */
  network?: string;
  /** A file for the runtime's debug log (`--debug --debug-log`). */
  debugLog?: string;
  /** A file for the runtime's own error log, as JSON lines (`--log --log-format=json`). */
  logFile?: string;
  /** More global flags, placed before the subcommand. */
  extraArgs?: readonly string[];
  /**
   * runsc only: a writable layer over the root filesystem, in the sandbox's memory
   * (`--overlay2=root:memory`, both builds): a step writes anywhere in its root, the shared
   * folder (an image's, a rootfs) never changes, and what it writes counts against its memory
   * limit. Placed after `extraArgs`, so no extra flag turns it off for a bundle that relies on it.
   */
  rootOverlay?: 'memory';
  /** Deadline for management calls (state, list, kill, delete...). Default 10 s. */
  timeoutMs?: number;
}

export function flavorOf(options: Pick<RuntimeOptions, 'command' | 'flavor'>): RuntimeFlavor {
  if (options.flavor) return options.flavor;
  const name = basename(options.command ?? 'runsc');
  if (name.includes('crun')) return 'crun';
  if (name.includes('runc') && !name.includes('runsc')) return 'runc';
  return 'runsc';
}

/** Global flags, before the subcommand. `logFile` may be overridden per call (one log per run). */
export function globalArgs(options: RuntimeOptions, logFile = options.logFile): string[] {
  const flavor = flavorOf(options);
  const args: string[] = [];
  if (options.root) args.push(`--root=${options.root}`);
  if (flavor === 'runsc') {
    if (options.platform) args.push(`--platform=${options.platform}`);
    if (options.network) args.push(`--network=${options.network}`);
  } else if (options.platform || options.network) {
    throw new InvalidRuntimeInput(
      options.platform ? 'platform' : 'network',
      `is a runsc setting; ${flavor} has no such flag: leave it unset`,
    );
  }
  if (options.debugLog) args.push('--debug', `--debug-log=${options.debugLog}`);
  if (logFile) args.push(`--log=${logFile}`, '--log-format=json');
  args.push(...(options.extraArgs ?? []));
  if (options.rootOverlay) {
    if (flavor !== 'runsc') {
      throw new InvalidRuntimeInput(
        'rootOverlay',
        `is a runsc setting; ${flavor} has no such flag: leave it unset`,
      );
    }
    args.push(`--overlay2=root:${options.rootOverlay}`);
  }
  return args;
}

export function runArgs(id: string, bundle: string, options: { detach?: boolean } = {}): string[] {
  validateContainerId(id);
  requireAbsolute(bundle, 'bundle');
  return ['run', ...(options.detach ? ['--detach'] : []), '--bundle', bundle, id];
}

export interface CreateOptions {
  pidFile?: string;
}

export function createArgs(id: string, bundle: string, options: CreateOptions = {}): string[] {
  validateContainerId(id);
  requireAbsolute(bundle, 'bundle');
  const args = ['create', '--bundle', bundle];
  if (options.pidFile) args.push('--pid-file', options.pidFile);
  return [...args, id];
}

export function startArgs(id: string): string[] {
  return ['start', validateContainerId(id)];
}

export interface KillOptions {
  /** Signal every process of the container, not only its PID 1. */
  all?: boolean;
}

export function killArgs(id: string, signal: string | number, options: KillOptions = {}): string[] {
  validateContainerId(id);
  return ['kill', ...(options.all ? ['--all'] : []), id, normaliseSignal(signal)];
}

export interface DeleteOptions {
  /** Kill the container first if it still runs (`--force`). */
  force?: boolean;
}

export function deleteArgs(id: string, options: DeleteOptions = {}): string[] {
  validateContainerId(id);
  return ['delete', ...(options.force ? ['--force'] : []), id];
}

export function stateArgs(id: string): string[] {
  return ['state', validateContainerId(id)];
}

export function listArgs(): string[] {
  return ['list', '--format=json'];
}

export function psArgs(id: string): string[] {
  return ['ps', '--format=json', validateContainerId(id)];
}

export function waitArgs(id: string): string[] {
  return ['wait', validateContainerId(id)];
}

export function eventsStatsArgs(id: string): string[] {
  return ['events', '--stats', validateContainerId(id)];
}

export function execArgs(id: string, argv: readonly string[]): string[] {
  validateContainerId(id);
  if (argv.length === 0) throw new InvalidRuntimeInput('args', 'needs at least the program to run');
  return ['exec', id, ...argv];
}

/** Accepts `TERM`, `SIGTERM` or `15`; hands the runtime the form they all take (`TERM`, `15`). */
export function normaliseSignal(signal: string | number): string {
  if (typeof signal === 'number') {
    if (!Number.isInteger(signal) || signal < 1 || signal > 64) {
      throw new InvalidRuntimeInput('signal', `${signal} is not a signal number (1-64)`);
    }
    return String(signal);
  }
  const name = signal.toUpperCase().replace(/^SIG/, '');
  if (!/^[A-Z0-9+-]+$/.test(name) || name.length === 0) {
    throw new InvalidRuntimeInput('signal', `${JSON.stringify(signal)} is not a signal name`);
  }
  return name;
}

function requireAbsolute(path: string, field: string): void {
  if (!path.startsWith('/')) {
    throw new InvalidRuntimeInput(field, `${JSON.stringify(path)} must be an absolute path`);
  }
}
