/** Durations as a pipeline file writes them: milliseconds, or a string like `500ms`, `30s`, `5m`. */

export const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, or undefined when the value is not a duration at all. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = durationPattern.exec(value);
  if (!match?.[1] || !match[2]) return undefined;
  return Number(match[1]) * (unitMs[match[2]] ?? Number.NaN);
}
