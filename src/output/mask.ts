/** What a masked value is replaced with, in tails and logs. */
export const maskText = '***';

const maskBytes = Buffer.from(maskText);

/**
 * Replaces every occurrence of a set of secret values in one stream by `***`, also when a value
 * arrives split across writes: the last `longest - 1` bytes of what it has seen are held back
 * until the next write (or `end()`) shows whether they begin a value. Works on bytes, so a
 * value cut inside a multi-byte character is still found.
 */
export class Masker {
  private readonly values: Buffer[];
  private readonly holdBack: number;
  private carry: Buffer = Buffer.alloc(0);

  constructor(values: readonly string[]) {
    // Longest first: where two values start at one place, the longer one is masked whole.
    this.values = [...new Set(values.filter((v) => v.length > 0))]
      .map((v) => Buffer.from(v))
      .sort((a, b) => b.length - a.length);
    this.holdBack = Math.max(0, (this.values[0]?.length ?? 0) - 1);
  }

  /** The masked bytes that can be released now (possibly none). */
  write(chunk: Buffer): Buffer {
    if (this.values.length === 0) return chunk;
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    return this.scan(data, data.length - this.holdBack);
  }

  /** Releases what was held back, masked: call once the stream has ended. */
  end(): Buffer {
    const data = this.carry;
    return this.values.length === 0 ? data : this.scan(data, data.length);
  }

  /**
   * Emits `data` with values masked, up to `safeEnd`: a value starting before it is complete in
   * `data` (it is at most holdBack+1 long), one starting at or after it may not be yet, so the
   * rest is carried over to the next call.
   */
  private scan(data: Buffer, safeEnd: number): Buffer {
    const out: Buffer[] = [];
    let pos = 0;
    for (;;) {
      let at = -1;
      let length = 0;
      for (const value of this.values) {
        const found = data.indexOf(value, pos);
        if (found !== -1 && (at === -1 || found < at)) {
          at = found;
          length = value.length;
        }
      }
      if (at === -1 || at >= safeEnd) {
        const end = Math.max(pos, safeEnd);
        out.push(data.subarray(pos, end));
        this.carry = Buffer.from(data.subarray(end));
        return Buffer.concat(out);
      }
      out.push(data.subarray(pos, at), maskBytes);
      pos = at + length;
    }
  }
}
