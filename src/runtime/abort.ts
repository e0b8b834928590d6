import { setTimeout as sleep } from 'node:timers/promises';
import { publish } from '../metrics/events.js';
import { ContainerNotFound, RuntimeError } from './errors.js';
import type { ContainerState } from './types.js';

/** The runtime calls the abort sequence needs: a subset of `Runsc`, so it can be tested alone. */
export interface AbortableRuntime {
  kill(id: string, signal: string, options?: { all?: boolean }): Promise<void>;
  state(id: string): Promise<ContainerState>;
  delete(id: string, options?: { force?: boolean }): Promise<void>;
}

export interface AbortOptions {
  /** How long the container gets to exit after TERM before it is KILLed. Default 3 s. */
  graceMs?: number;
  /**
   * Resolves true once the attached `run` process has exited, false if it has not within `ms`.
   * Without one (no child of ours: a container left by another process), the container's own
   * state is polled instead.
   */
  waitForExit?: (ms: number) => Promise<boolean>;
  /** SIGKILLs the attached `run` process: the last resort when the runtime does not answer. */
  killChild?: () => void;
}

export interface AbortReport {
  /** The steps taken, in order, for logs and tests: `kill TERM`, `kill KILL`, `sigkill run`... */
  steps: string[];
  /** True when `state` finally said the id is gone. */
  gone: boolean;
}

/**
 * The abort sequence measured on runsc (see DESIGN.md): signals sent to `runsc run` are not
 * forwarded and leave the container `stopped`, so the container is signalled through the
 * runtime, and the `run` process is only SIGKILLed when the runtime does not get it to exit.
 * Every step has a deadline (each runtime call carries one), and every step tolerates the
 * container being gone already: the sequence is idempotent.
 */
export async function abortContainer(
  runtime: AbortableRuntime,
  id: string,
  options: AbortOptions = {},
): Promise<AbortReport> {
  const startedAt = performance.now();
  const graceMs = options.graceMs ?? 3000;
  const steps: string[] = [];
  const waitForExit = options.waitForExit ?? ((ms: number) => waitUntilNotRunning(runtime, id, ms));

  // A run that was just spawned may not have created its container yet: keep trying TERM
  // for the grace period rather than KILLing a half-made sandbox that would leave state behind.
  const deadline = Date.now() + graceMs;
  let exited = false;
  for (;;) {
    const delivered = await tryKill(runtime, id, 'TERM');
    if (delivered) {
      steps.push('kill TERM');
      exited = await waitForExit(Math.max(0, deadline - Date.now()));
      break;
    }
    exited = await waitForExit(Math.min(100, Math.max(0, deadline - Date.now())));
    if (exited || Date.now() >= deadline) break;
  }

  if (!exited) {
    if (await tryKill(runtime, id, 'KILL', { all: true })) steps.push('kill KILL');
    exited = await waitForExit(1000);
  }
  if (!exited && options.killChild) {
    options.killChild();
    steps.push('sigkill run');
    await waitForExit(2000);
  }

  if (!(await confirmGone(runtime, id, 500))) {
    steps.push('delete --force');
    try {
      await runtime.delete(id, { force: true });
    } catch (error) {
      // runsc's delete of an attached container exits 128 ("context deadline exceeded") although
      // it removed the state: the confirmation below is what counts.
      if (!(error instanceof RuntimeError)) throw error;
    }
  }
  const gone = await confirmGone(runtime, id, 2000);
  publish('abort', { durationMs: performance.now() - startedAt, gone });
  return { steps, gone };
}

/**
 * True once `state` has not found the id twice in a row, 50 ms apart, within `ms`. One answer is
 * not enough: while runsc tears a container down, `state` can miss it for a moment and then
 * find it again until the teardown has finished.
 */
async function confirmGone(runtime: AbortableRuntime, id: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  let misses = 0;
  for (;;) {
    misses = (await exists(runtime, id)) ? 0 : misses + 1;
    if (misses >= 2) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

async function tryKill(
  runtime: AbortableRuntime,
  id: string,
  signal: string,
  options?: { all?: boolean },
): Promise<boolean> {
  try {
    await runtime.kill(id, signal, options);
    return true;
  } catch (error) {
    if (error instanceof RuntimeError) return false;
    throw error;
  }
}

/** True while `state` finds the id; a runtime that does not answer counts as "still there". */
export async function exists(runtime: AbortableRuntime, id: string): Promise<boolean> {
  try {
    await runtime.state(id);
    return true;
  } catch (error) {
    if (error instanceof ContainerNotFound) return false;
    if (error instanceof RuntimeError) return true;
    throw error;
  }
}

async function waitUntilNotRunning(runtime: AbortableRuntime, id: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const state = await runtime.state(id);
      if (state.status !== 'running' && state.status !== 'created') return true;
    } catch (error) {
      if (error instanceof ContainerNotFound) return true;
      if (!(error instanceof RuntimeError)) throw error;
    }
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
  }
}
