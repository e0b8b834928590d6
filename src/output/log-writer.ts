import { constants, type promises as fsp } from 'node:fs';
import { open } from 'node:fs/promises';
import { droppedText, endNoteText, formatRecords, noteRecord, type OutputStream } from './records.js';
import { TailBuffer } from './tail.js';

export interface LogCaps {
  /** Bytes (of records) written from the start of the output. */
  headBytes: number;
  /** Bytes kept from the end of the output, written when the log is closed. */
  tailBytes: number;
}

export interface LogSummary {
  /** Bytes of output given to the log (after masking). */
  receivedBytes: number;
  /** Bytes of records between the head and the tail that were not written. */
  droppedBytes: number;
  /** Why writing stopped early (a full disk, say); the output itself is unaffected. */
  error?: string;
}

/** A piece of a live log, by offsets in its records as written (see log-reader.ts). */
export interface LiveRead {
  data: Buffer;
  /** Where `data` starts; after `skipped` bytes that were dropped (always at a record's start). */
  offset: number;
  skipped: number;
}

/**
 * Created only if nothing is there: never through a planted symlink, never over another file.
 * Read-write, so that a reader of the running attempt reads the head through this very handle.
 */
const createFlags = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * One attempt's output log, as records (records.ts): the first `headBytes` go to disk as they
 * come (whole records), the last `tailBytes` are held in memory and written at `close()` after a
 * note of how much was dropped between, then an end note that tells readers where things are.
 * While it runs, `read` serves both (the follow of `temporal-runsc logs`). A write error (a
 * full disk) stops the log and is reported by `close()`; no call ever rejects and nothing
 * emits 'error', so a log can never bring the worker down.
 */
export class OutputLog {
  private outputBytes = 0;
  /** Bytes of records given to the log: the offsets readers use. */
  private received = 0;
  /** Bytes of records that went to the head, and of those, how many are on disk. */
  private headLength = 0;
  private headOnDisk = 0;
  private headOpen = true;
  private readonly tail: TailBuffer;
  private queue: Promise<void> = Promise.resolve();
  private error: string | undefined;
  private closed = false;
  private dropped = 0;
  private readonly waiters = new Set<() => void>();

  private constructor(
    private handle: fsp.FileHandle | undefined,
    readonly path: string,
    readonly caps: LogCaps,
  ) {
    this.tail = new TailBuffer(Math.max(1, caps.tailBytes));
  }

  /** Creates the file (0600); fails if anything already has that name. */
  static async create(path: string, caps: LogCaps): Promise<OutputLog> {
    const handle = await open(path, createFlags, 0o600);
    return new OutputLog(handle, path, caps);
  }

  /** Resolves once the chunk is on disk or held; in arrival order across callers. */
  write(stream: OutputStream, chunk: Buffer): Promise<void> {
    if (this.closed || chunk.length === 0) return this.queue;
    this.outputBytes += chunk.length;
    const records = formatRecords(stream, chunk);
    this.received += records.length;
    let rest = records;
    if (this.headOpen) {
      const room = this.caps.headBytes - this.headLength;
      // Whole records only: the head ends where the first record that does not fit begins.
      const fits = records.length <= room ? records.length : records.lastIndexOf(0x0a, room - 1) + 1;
      const head = records.subarray(0, fits);
      rest = records.subarray(fits);
      if (rest.length > 0) this.headOpen = false;
      if (head.length > 0) {
        this.headLength += head.length;
        this.queue = this.queue.then(() => this.writeOut(head, true));
      }
    }
    if (rest.length > 0 && this.caps.tailBytes > 0) this.tail.append(rest);
    else if (rest.length > 0) this.tail.total += rest.length;
    this.wake();
    return this.queue;
  }

  /** Output from `offset` (at most `maxBytes`), or undefined once the log is closed (read the file). */
  async read(offset: number, maxBytes: number): Promise<LiveRead | undefined> {
    if (this.closed) return undefined;
    if (offset < this.headLength) {
      const end = Math.min(this.headOnDisk, offset + maxBytes);
      if (end <= offset || !this.handle) return { data: Buffer.alloc(0), offset, skipped: 0 };
      const data = Buffer.alloc(end - offset);
      const { bytesRead } = await this.handle
        .read(data, 0, data.length, offset)
        .catch(() => ({ bytesRead: 0 }));
      return { data: data.subarray(0, bytesRead), offset, skipped: 0 };
    }
    if (this.headOpen) return { data: Buffer.alloc(0), offset, skipped: 0 };
    const kept = this.caps.tailBytes > 0 ? this.tail.bytes() : Buffer.alloc(0);
    const keptStart = this.headLength + this.tail.total - kept.length;
    // What was cut from the front of the tail starts mid-record: readers start at the next one.
    const firstRecord = this.tail.total > kept.length ? kept.indexOf(0x0a) + 1 : 0;
    const from = Math.max(offset, keptStart + firstRecord);
    const data = Buffer.from(kept.subarray(from - keptStart, from - keptStart + maxBytes));
    return { data, offset: from, skipped: from - offset };
  }

  /** Resolves at the next write or close, or after `ms`, or when `signal` aborts. */
  waitForMore(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  /** Writes the dropped note, the tail and the end note, closes the file, and says what happened. */
  async close(): Promise<LogSummary> {
    if (!this.closed) {
      this.closed = true;
      let kept = this.caps.tailBytes > 0 ? this.tail.bytes() : Buffer.alloc(0);
      // A tail cut at its front starts inside a record: the file keeps whole records only.
      if (this.tail.total > kept.length) kept = kept.subarray(kept.indexOf(0x0a) + 1);
      this.dropped = this.received - this.headLength - kept.length;
      const note = this.dropped > 0 ? noteRecord(droppedText(this.dropped)) : Buffer.alloc(0);
      const end = noteRecord(
        endNoteText({ head: this.headLength, dropped: this.dropped, note: note.length }),
      );
      const last = Buffer.concat([note, kept, end]);
      this.queue = this.queue.then(() => this.writeOut(last, false)).then(() => this.closeHandle());
      this.wake();
    }
    await this.queue;
    return {
      receivedBytes: this.outputBytes,
      droppedBytes: this.dropped,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private async writeOut(bytes: Buffer, head: boolean): Promise<void> {
    let offset = 0;
    while (this.handle && offset < bytes.length) {
      try {
        const { bytesWritten } = await this.handle.write(bytes, offset, bytes.length - offset);
        offset += bytesWritten;
        if (head) this.headOnDisk += bytesWritten;
      } catch (error) {
        this.error = `${this.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}: the log stops here`;
        await this.closeHandle();
      }
    }
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }
}
