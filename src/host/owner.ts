import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive } from './processes.js';
import { readRegularFile } from './read-regular-file.js';

/** Larger than any bundle this worker writes (its env is bounded by the secrets' and input's caps). */
const configMaxBytes = 4 * 1024 * 1024;

/** The bundle annotation that says which worker process created a container. */
export const ownerAnnotation = 'dev.temporal-runsc.owner';

export interface ContainerOwner {
  host: string;
  pid: number;
  /** Start time of the owner process (from /proc), so a reused PID is not mistaken for it. */
  processStart: string;
}

export async function currentOwner(host: string): Promise<ContainerOwner> {
  return { host, pid: process.pid, processStart: await processStartTime(process.pid) };
}

/** Reads the owner annotation from a container's bundle (`state` gives the bundle folder). */
export async function ownerOfBundle(bundle: string): Promise<ContainerOwner | undefined> {
  try {
    // The bundle path comes from `state`, and the id from a workflow: read as hostile (no link,
    // no FIFO, bounded), as a planted config.json must not block, redirect or exhaust the worker.
    const { bytes } = await readRegularFile(join(bundle, 'config.json'), { maxBytes: configMaxBytes });
    const config = JSON.parse(bytes.toString('utf8')) as {
      annotations?: Record<string, string>;
    };
    const raw = config.annotations?.[ownerAnnotation];
    return raw ? (JSON.parse(raw) as ContainerOwner) : undefined;
  } catch {
    return undefined;
  }
}

/** True when the owner process still runs (same PID and same start time). */
export async function ownerAlive(owner: ContainerOwner): Promise<boolean> {
  if (!isAlive(owner.pid)) return false;
  return (await processStartTime(owner.pid)) === owner.processStart;
}

async function processStartTime(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Field 22 (starttime) comes after the command name, which is in parentheses and may hold spaces.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}
