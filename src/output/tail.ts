import { Writable } from 'node:stream';

/**
 * A writable that keeps only the last `limit` bytes written to it: memory stays bounded
 * whatever a step prints, and the end of the output (where errors usually are) survives.
 */
export class TailBuffer extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  total = 0;

  constructor(readonly limit: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= this.limit && this.chunks.length > 1) {
      this.size -= this.chunks.shift()?.length ?? 0;
    }
    done();
  }

  /** The kept bytes as text; a multi-byte character cut at the start is dropped. */
  text(): string {
    const all = Buffer.concat(this.chunks);
    const kept = all.length > this.limit ? all.subarray(all.length - this.limit) : all;
    return kept.toString('utf8').replace(/^\uFFFD+/, '');
  }
}
