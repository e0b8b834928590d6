import { Writable } from 'node:stream';

/**
 * Keeps only the last `limit` bytes given to it: memory stays bounded whatever a step prints,
 * and the end of the output (where errors usually are) survives. A Writable too, for callers
 * that pipe into it.
 */
export class TailBuffer extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  total = 0;

  constructor(readonly limit: number) {
    super();
  }

  /** Adds bytes at once (no stream machinery). */
  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= this.limit && this.chunks.length > 1) {
      this.size -= this.chunks.shift()?.length ?? 0;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.append(chunk);
    done();
  }

  /** The kept bytes (the last `limit` of all given). */
  bytes(): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.length > this.limit ? all.subarray(all.length - this.limit) : all;
  }

  /** The kept bytes as text; a multi-byte character cut at the start is dropped. */
  text(): string {
    return this.bytes()
      .toString('utf8')
      .replace(/^\uFFFD+/, '');
  }
}
