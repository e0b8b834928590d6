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

/**
 * What a run returns, masked: tails and error texts rewritten, a result that holds a secret (in
 * any string or key) withheld.
 */
export function maskRunResult<
  T extends {
    stdoutTail: string;
    stderrTail: string;
    result?: unknown;
    resultError?: string;
    logError?: string;
  },
>(result: T, values: readonly string[]): T {
  if (values.length === 0) return result;
  result.stdoutTail = maskSecrets(result.stdoutTail, values);
  result.stderrTail = maskSecrets(result.stderrTail, values);
  if (result.resultError !== undefined) result.resultError = maskSecrets(result.resultError, values);
  if (result.logError !== undefined) result.logError = maskSecrets(result.logError, values);
  if (result.result !== undefined && quotesSecret(result.result, values)) {
    delete result.result;
    result.resultError =
      '/out/result.json holds a secret value: it is not returned; pass a reference to it, never the value';
  }
  return result;
}

/**
 * Whether any string in a parsed JSON value, or any key, contains a raw secret. The value is
 * walked rather than serialized: JSON escapes quotes, backslashes, newlines and control
 * characters, so a PEM key or a service-account JSON would never be found in the text.
 */
function quotesSecret(value: unknown, secrets: readonly string[]): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (secrets.some((secret) => item.includes(secret))) return true;
    } else if (Array.isArray(item)) {
      pending.push(...item);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, entry] of Object.entries(item)) pending.push(key, entry);
    }
  }
  return false;
}
