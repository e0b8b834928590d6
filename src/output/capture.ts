import { Writable } from 'node:stream';
import type { OutputLog } from './log-writer.js';
import { Masker } from './mask.js';
import type { OutputStream } from './records.js';
import { TailBuffer } from './tail.js';

/**
 * One stream of a step (stdout or stderr) on its way to the worker: masked, then kept as a tail
 * for the result and appended to the attempt's log. Pipe the runtime's stream into it (without
 * ending it); call `flush()` once that stream has ended, to release what the masker held back.
 */
export class StreamCapture extends Writable {
  /** Bytes the step wrote, before masking. */
  bytes = 0;
  /** When masked output last came out (performance.now()); 0 before any. */
  updatedAt = 0;
  readonly tail: TailBuffer;
  private readonly masker: Masker;
  private readonly log: OutputLog | undefined;
  private readonly stream: OutputStream;

  constructor(options: {
    tailBytes: number;
    maskValues?: readonly string[];
    log?: OutputLog;
    /** Which stream this is, in the log's records. Default stdout. */
    stream?: OutputStream;
  }) {
    super();
    this.tail = new TailBuffer(options.tailBytes);
    this.masker = new Masker(options.maskValues ?? []);
    this.log = options.log;
    this.stream = options.stream ?? 'stdout';
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    this.release(this.masker.write(chunk)).then(() => done());
  }

  override _final(done: (error?: Error | null) => void): void {
    this.release(this.masker.end()).then(() => done());
  }

  /**
   * Ends the capture once the runtime's stream has ended: waits for the writes still queued,
   * then releases what the masker held back.
   */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      if (this.writableFinished) resolve();
      else this.end(() => resolve());
    });
  }

  text(): string {
    return this.tail.text();
  }

  /** The last line with text in the tail (masked), at most `maxChars` of its end. */
  lastLine(maxChars: number): string {
    const lines = this.tail.text().split('\n');
    const line = lines.findLast((l) => l.trim() !== '') ?? '';
    return line.length > maxChars ? line.slice(line.length - maxChars) : line;
  }

  // The log's writes never reject (OutputLog), so backpressure is all this waits for.
  private async release(masked: Buffer): Promise<void> {
    if (masked.length === 0) return;
    this.updatedAt = performance.now();
    this.tail.append(masked);
    await this.log?.write(this.stream, masked);
  }
}
