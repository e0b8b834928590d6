import { constants, type promises as fsp } from 'node:fs';
import { open } from 'node:fs/promises';
import { TailBuffer } from './tail.js';

export interface LogCaps {
  /** Bytes written from the start of the output. */
  headBytes: number;
  /** Bytes kept from the end of the output, written when the log is closed. */
  tailBytes: number;
}

export interface LogSummary {
  /** Bytes of output given to the log (after masking). */
  receivedBytes: number;
  /** Bytes between the head and the tail that were not written. */
  droppedBytes: number;
  /** Why writing stopped early (a full disk, say); the output itself is unaffected. */
  error?: string;
}

/** Created only if nothing is there: never through a planted symlink, never over another file. */
const createFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * One attempt's output log: the first `headBytes` go to disk as they come, the last `tailBytes`
 * are held in memory and written at `close()` after a line saying how much was dropped between.
 * A write error (a full disk) stops the log and is reported by `close()`; no call ever rejects
 * and nothing emits 'error', so a log can never bring the worker down.
 */
export class OutputLog {
  private received = 0;
  private headLeft: number;
  private readonly tail: TailBuffer;
  private queue: Promise<void> = Promise.resolve();
  private error: string | undefined;
  private closed = false;
  private dropped = 0;

  private constructor(
    private handle: fsp.FileHandle | undefined,
    readonly path: string,
    readonly caps: LogCaps,
  ) {
    this.headLeft = caps.headBytes;
    this.tail = new TailBuffer(Math.max(1, caps.tailBytes));
  }

  /** Creates the file (0600); fails if anything already has that name. */
  static async create(path: string, caps: LogCaps): Promise<OutputLog> {
    const handle = await open(path, createFlags, 0o600);
    return new OutputLog(handle, path, caps);
  }

  /** Resolves once the chunk is on disk or held; in arrival order across callers. */
  write(chunk: Buffer): Promise<void> {
    if (this.closed || chunk.length === 0) return this.queue;
    this.received += chunk.length;
    const head = chunk.subarray(0, this.headLeft);
    this.headLeft -= head.length;
    if (head.length < chunk.length && this.caps.tailBytes > 0) this.tail.append(chunk.subarray(head.length));
    if (head.length > 0) this.queue = this.queue.then(() => this.writeOut(head));
    return this.queue;
  }

  /** Writes the dropped-bytes line and the tail, closes the file, and says what happened. */
  async close(): Promise<LogSummary> {
    if (!this.closed) {
      this.closed = true;
      const kept = this.caps.tailBytes > 0 ? this.tail.bytes() : Buffer.alloc(0);
      const head = Math.min(this.received, this.caps.headBytes);
      this.dropped = this.received - head - kept.length;
      if (this.dropped > 0) {
        const line = `\n[temporal-runsc: ${this.dropped} bytes of output dropped here; the log keeps the first ${this.caps.headBytes} and the last ${kept.length}]\n`;
        this.queue = this.queue.then(() => this.writeOut(Buffer.from(line)));
      }
      if (kept.length > 0) this.queue = this.queue.then(() => this.writeOut(kept));
      this.queue = this.queue.then(() => this.closeHandle());
    }
    await this.queue;
    return {
      receivedBytes: this.received,
      droppedBytes: this.dropped,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  private async writeOut(bytes: Buffer): Promise<void> {
    let offset = 0;
    while (this.handle && offset < bytes.length) {
      try {
        const { bytesWritten } = await this.handle.write(bytes, offset, bytes.length - offset);
        offset += bytesWritten;
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
