/**
 * Resolves the epoch ms at which the container was gone. Watches one container from the outside, the way an operator would check "is it gone": its
 * state files in the runtime root, and the runtime processes whose arguments name it.
 *
 * The fast check reads the command line of `runsc` processes only (comm `runsc`: `run`, `kill`,
 * `state`...): reading that of runsc's ptrace stubs (comm `exe`) can block while their sandbox
 * is busy, which would blur the timing. The attached `run` outlives its sandbox, so "no state
 * files and no `run`" means gone; a full scan (sandbox and gofer included) then confirms it.
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { listProcesses } from '../src/host/processes.js';
import { runtimeUnderTest } from '../test/support/runsc-builds.js';
import { nowMs } from './pipelines.js';

export async function watchUntilGone(
  root: string,
  id: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listed = (await readdir(root).catch(() => [] as string[])).some((name) =>
      name.startsWith(`${id}_sandbox:`),
    );
    const commands = (await runscCommands()).filter((args) => args.some((arg) => arg.includes(id)));
    const at = nowMs();
    const running = commands.some((args) => args.includes('run'));
    if (!listed && !running && !(await anyProcessNames(id))) {
      return at;
    }
    if (Date.now() > deadline) throw new Error(`container ${id} still there after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 5));
  }
}

/** Resolves once `path` exists (a step touches it to say it is ready). */
export async function waitForFile(path: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await access(path).then(
      () => true,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The kernel's name for the runtime binary under test: its file name, cut to 15 characters. */
const runtimeComm = basename(runtimeUnderTest()).slice(0, 15);

/** The argument vectors of processes named `runsc` (not its sandbox, gofer or stubs). */
async function runscCommands(): Promise<string[][]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const found: string[][] = [];
  await Promise.all(
    pids.map(async (pid) => {
      const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
      if (comm.trim() !== runtimeComm) return;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      found.push(cmdline.split('\0').filter(Boolean));
    }),
  );
  return found;
}

/** The slow, complete check: any process at all (sandbox, gofer included) naming the container. */
async function anyProcessNames(id: string): Promise<boolean> {
  return (await listProcesses()).some((p) => p.args.some((arg) => arg.includes(id)));
}
