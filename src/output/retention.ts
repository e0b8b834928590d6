import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface LogRetention {
  /** Logs older than this (by last write) are removed. */
  maxAgeMs: number;
  /** Past this total, the oldest logs are removed until the rest fit. */
  maxTotalBytes: number;
}

export interface LogSweepReport {
  dir: string;
  removed: string[];
  keptFiles: number;
  keptBytes: number;
  problems: string[];
}

/** Attempt logs are `<container id>.log`; anything else in the folder is not ours to remove. */
const logName = /^[A-Za-z0-9][A-Za-z0-9_.-]*\.log$/;

/**
 * Applies the retention to one folder of attempt logs: by age first, then oldest first until
 * the total fits. Only regular files named like attempt logs are counted or removed (unlink
 * never follows a link); `inUse` names logs of running attempts, which stay whatever their age.
 */
export async function sweepLogs(
  dir: string,
  retention: LogRetention,
  options: { inUse?: (fileName: string) => boolean; now?: number } = {},
): Promise<LogSweepReport> {
  const report: LogSweepReport = { dir, removed: [], keptFiles: 0, keptBytes: 0, problems: [] };
  const info = await lstat(dir).catch(() => undefined);
  if (!info) return report;
  if (!info.isDirectory()) {
    report.problems.push(`${dir} is not a folder (a link?): logs are not swept there`);
    return report;
  }
  const now = options.now ?? Date.now();
  const logs: { name: string; size: number; mtimeMs: number }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !logName.test(entry.name)) continue;
    const stat = await lstat(join(dir, entry.name)).catch(() => undefined);
    if (stat?.isFile()) logs.push({ name: entry.name, size: stat.size, mtimeMs: stat.mtimeMs });
  }
  logs.sort((a, b) => a.mtimeMs - b.mtimeMs);
  let total = logs.reduce((sum, log) => sum + log.size, 0);
  for (const log of logs) {
    const tooOld = now - log.mtimeMs > retention.maxAgeMs;
    const tooMuch = total > retention.maxTotalBytes;
    if ((tooOld || tooMuch) && !options.inUse?.(log.name)) {
      try {
        await unlink(join(dir, log.name));
        report.removed.push(log.name);
        total -= log.size;
        continue;
      } catch (error) {
        report.problems.push(`${log.name}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
    }
    report.keptFiles++;
    report.keptBytes += log.size;
  }
  return report;
}
