/**
 * CPU time spent by the parties of a run, from /proc: the bench process itself (client and
 * in-process worker), its reaped children (every runsc process the bench or its worker started:
 * `run` waits for its sandbox and gofer, so their time lands here too), and the dev server. On a
 * 2-core machine this is where "library vs raw" differences come from, so it is reported per step.
 */
import { readFile } from 'node:fs/promises';
import { listProcesses } from '../src/host/processes.js';
import { round } from './stats.js';

/** USER_HZ: Linux reports process times in clock ticks of 1/100 s on every common architecture. */
const ticksPerSecond = 100;

export interface CpuTimes {
  benchMs: number;
  runtimeMs: number;
  devServerMs: number;
}

export async function findDevServerPid(port: number): Promise<number | undefined> {
  const processes = await listProcesses();
  return processes.find((p) => p.args.includes('start-dev') && p.args.includes(String(port)))?.pid;
}

export async function cpuTimes(devServerPid: number | undefined): Promise<CpuTimes> {
  const self = await statTicks('self');
  const server = devServerPid ? await statTicks(String(devServerPid)).catch(() => undefined) : undefined;
  const toMs = (ticks: number) => (ticks * 1000) / ticksPerSecond;
  return {
    benchMs: toMs(self.utime + self.stime),
    runtimeMs: toMs(self.cutime + self.cstime),
    devServerMs: server ? toMs(server.utime + server.stime) : Number.NaN,
  };
}

/** Runs `work` and returns its result with the CPU each party spent meanwhile. */
export async function withCpu<T>(
  devServerPid: number | undefined,
  work: () => Promise<T>,
): Promise<{ value: T; cpu: CpuTimes }> {
  const before = await cpuTimes(devServerPid);
  const value = await work();
  const after = await cpuTimes(devServerPid);
  return {
    value,
    cpu: {
      benchMs: after.benchMs - before.benchMs,
      runtimeMs: after.runtimeMs - before.runtimeMs,
      devServerMs: after.devServerMs - before.devServerMs,
    },
  };
}

/** Sum of several measurements divided by a count (CPU ms per step). */
export function cpuPer(measurements: readonly CpuTimes[], count: number): CpuTimes {
  const sum = (key: keyof CpuTimes) => round(measurements.reduce((total, m) => total + m[key], 0) / count);
  return { benchMs: sum('benchMs'), runtimeMs: sum('runtimeMs'), devServerMs: sum('devServerMs') };
}

async function statTicks(
  pid: string,
): Promise<{ utime: number; stime: number; cutime: number; cstime: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which is in parentheses and may hold spaces); field 3 is index 0.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]);
  return { utime: field(14), stime: field(15), cutime: field(16), cstime: field(17) };
}
