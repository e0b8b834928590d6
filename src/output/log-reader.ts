/**
 * Reads an attempt's log for `temporal-runsc logs`, live or after the attempt: by offsets in
 * the records as they were written, the same offsets whether the attempt still runs (served
 * by its OutputLog) or has ended (its file: head, dropped note, tail, end note). A reader that
 * follows a running attempt therefore goes on in the file where it left off in memory.
 *
 * The worker runs as root and the path is the worker's own (derived from the container id, never
 * taken from a client), but the file is opened like any host file a step might have shaped:
 * without following a link, without blocking, and only a regular file of this user with one link.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { OutputLog } from './log-writer.js';
import { parseEndNote, parseRecords } from './records.js';

/** How an attempt's log stands. */
export type LogState =
  /** The attempt runs here: more may come. */
  | 'running'
  /** The attempt ended and its log is complete. */
  | 'ended'
  /** The file has no end note: its worker stopped before the attempt ended (or an older log). */
  | 'incomplete'
  /** No log of that attempt here: not started yet, swept by the retention, or never here. */
  | 'missing';

export interface LogRead {
  state: LogState;
  data: Buffer;
  /** Offset of `data`; `skipped` bytes before it were dropped by the log's caps. */
  offset: number;
  skipped: number;
  /** The offset to ask for next. */
  next: number;
}

/** Why a log is not read: its path is not a plain log file of this worker (a link, a FIFO...). */
export class LogRefused extends Error {
  override name = 'LogRefused';
}

const readFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** The end note is one short record; this much of the file's end holds it. */
const endProbeBytes = 512;

/** Reads from the live log when there is one, else from the file. */
export async function readAttemptLog(
  path: string,
  live: OutputLog | undefined,
  offset: number,
  maxBytes: number,
): Promise<LogRead> {
  const fromLive = await live?.read(offset, maxBytes);
  if (fromLive) return { state: 'running', ...fromLive, next: fromLive.offset + fromLive.data.length };
  return readLogFile(path, offset, maxBytes);
}

/** Reads a log file from `offset` (an offset in its records as written, see above). */
export async function readLogFile(path: string, offset: number, maxBytes: number): Promise<LogRead> {
  const file = await open(path, readFlags).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new LogRefused(`the log file cannot be opened (${error.code ?? 'error'}): not read`);
  });
  if (!file) return { state: 'missing', data: Buffer.alloc(0), offset, skipped: 0, next: offset };
  try {
    const stats = await file.stat();
    if (!stats.isFile() || stats.nlink !== 1 || stats.uid !== process.getuid?.()) {
      throw new LogRefused('the log is not a regular file of this worker with a single link: not read');
    }
    const size = stats.size;
    const probeStart = Math.max(0, size - endProbeBytes);
    const probe = await readAt(file, probeStart, size - probeStart);
    // The last line, when the file ends with one: the end note of a complete log.
    const lastLineStart = probe.lastIndexOf(0x0a, probe.length - 2) + 1;
    const lastLine =
      probe.at(-1) === 0x0a ? parseRecords(probe.subarray(lastLineStart)).records[0] : undefined;
    const end = lastLine && parseEndNote(lastLine);
    const contentEnd = end ? probeStart + lastLineStart : size;
    let from = offset;
    let skipped = 0;
    let at = offset;
    let limit = contentEnd;
    if (end && end.dropped > 0) {
      if (offset < end.head) limit = end.head;
      else {
        if (offset < end.head + end.dropped) {
          skipped = end.head + end.dropped - offset;
          from = end.head + end.dropped;
        }
        at = from - end.dropped + end.note;
      }
    }
    const length = Math.max(0, Math.min(maxBytes, limit - at));
    const data = length > 0 ? await readAt(file, at, length) : Buffer.alloc(0);
    return { state: end ? 'ended' : 'incomplete', data, offset: from, skipped, next: from + data.length };
  } finally {
    await file.close().catch(() => undefined);
  }
}

async function readAt(
  file: Awaited<ReturnType<typeof open>>,
  position: number,
  length: number,
): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}
