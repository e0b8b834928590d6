/**
 * Every process the chaos suite starts (workers, lock holders, `runsc run`s killed behind the
 * library's back, the dev server) is registered here under its scenario, so that a failing
 * scenario, a timeout or Ctrl-C can end them all: nothing the suite starts may outlive it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../src/host/processes.js';

export interface ChildProcessLike {
  pid?: number | undefined;
  kill(signal?: NodeJS.Signals | number): boolean;
}

interface Tracked {
  owner: string;
  label: string;
  child: ChildProcessLike;
  exited: Promise<unknown>;
}

const tracked = new Set<Tracked>();

/** Registers a child of `owner` (a scenario name); it leaves the registry when it exits. */
export function trackChild(owner: string, label: string, child: ChildProcessLike, exited: Promise<unknown>) {
  const entry: Tracked = { owner, label, child, exited };
  tracked.add(entry);
  void exited.then(
    () => tracked.delete(entry),
    () => tracked.delete(entry),
  );
}

/**
 * Ends one child: `signal` first (SIGTERM lets a worker abort its containers), SIGKILL when it
 * has not exited after `graceMs`. Resolves once it has exited.
 */
export async function endChild(
  child: ChildProcessLike,
  exited: Promise<unknown>,
  options: { signal?: NodeJS.Signals; graceMs?: number } = {},
): Promise<void> {
  const settled = exited.then(
    () => true,
    () => true,
  );
  if (child.pid === undefined || !isAlive(child.pid)) {
    await settled;
    return;
  }
  child.kill(options.signal ?? 'SIGTERM');
  const done = await Promise.race([settled, sleep(options.graceMs ?? 10_000).then(() => false)]);
  if (!done) {
    child.kill('SIGKILL');
    await settled;
  }
}

/** Ends every child of `owner` still running (or every child at all); returns what it ended. */
export async function endChildren(owner?: string, graceMs = 10_000): Promise<string[]> {
  const mine = [...tracked].filter((entry) => owner === undefined || entry.owner === owner);
  await Promise.all(mine.map((entry) => endChild(entry.child, entry.exited, { graceMs })));
  return mine.map((entry) => `${entry.label} (pid ${entry.child.pid})`);
}

/** Last resort on a second Ctrl-C: SIGKILL everything at once, without waiting. */
export function killAllChildrenNow(): void {
  for (const entry of tracked) entry.child.kill('SIGKILL');
}
