import { Masker } from '../output/mask.js';

/**
 * Last line of defence for what leaves the worker: a step's tails and result go into the
 * workflow history, so no secret value may appear in them as written. (A hostile step can
 * always encode a secret it was given; masking keeps honest output from leaking one.) Streams
 * are masked as they come (src/output/mask.ts); this is the same masking for whole texts.
 */
export function maskSecrets(text: string, values: readonly string[]): string {
  const masker = new Masker(values);
  return Buffer.concat([masker.write(Buffer.from(text)), masker.end()]).toString();
}

/** What a run returns, masked: tails rewritten, a result that quotes a secret withheld. */
export function maskRunResult<
  T extends { stdoutTail: string; stderrTail: string; result?: unknown; resultError?: string },
>(result: T, values: readonly string[]): T {
  if (values.length === 0) return result;
  result.stdoutTail = maskSecrets(result.stdoutTail, values);
  result.stderrTail = maskSecrets(result.stderrTail, values);
  if (result.resultError !== undefined) result.resultError = maskSecrets(result.resultError, values);
  if (result.result !== undefined) {
    const text = JSON.stringify(result.result);
    if (maskSecrets(text, values) !== text) {
      delete result.result;
      result.resultError =
        '/out/result.json holds a secret value: it is not returned; pass a reference to it, never the value';
    }
  }
  return result;
}
