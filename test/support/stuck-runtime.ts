import { setTimeout as sleep } from 'node:timers/promises';
import { processArgs } from '../../src/host/processes.js';

/**
 * TEST-ONLY fakes of a stuck runtime command, for faults the real runsc cannot be made to show
 * on demand: a process whose arguments look like `runsc --root=<root> <subcommand> <id>` and that
 * blocks forever in the shell itself (`read` on a pipe nobody writes, no child left), so that a
 * SIGKILL ends it completely. With `lock`, it holds that file's flock the whole time, as a runsc
 * stuck inside a container's lock does.
 */
export function fakeStuckRuntime(options: {
  /** The `--root` its arguments name (`--root=<root>`). */
  rootArg: string;
  subcommand: string;
  id: string;
  /** A lock file to hold (through `flock --no-fork`, which execs the shell with the lock). */
  lock?: string;
}): { command: string; args: string[] } {
  const shell = [
    'bash',
    '-c',
    'while :; do read -r -t 3600 <> <(:) || true; done',
    'runsc',
    `--root=${options.rootArg}`,
    options.subcommand,
    options.id,
  ];
  return options.lock
    ? { command: 'flock', args: ['--no-fork', options.lock, ...shell] }
    : { command: shell[0] as string, args: shell.slice(1) };
}

/**
 * Waits until the process runs `program` (its first argument): a fault's helper has exec'd it
 * (`flock --no-fork` does once it holds the lock), so the fault is in place.
 */
export async function untilExecd(pid: number, program: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await processArgs(pid))?.[0] !== program) {
    if (Date.now() > deadline) throw new Error(`process ${pid} never ran ${program}`);
    await sleep(20);
  }
}
