/**
 * The few statistics the bench reports. Percentiles use linear interpolation between the two
 * nearest ranks (numpy's default), so a p95 of a handful of samples is not just the maximum.
 */

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const lowValue = sorted[low] as number;
  const highValue = sorted[high] as number;
  return lowValue + (highValue - lowValue) * (rank - low);
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  return samples.reduce((sum, x) => sum + x, 0) / samples.length;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    min: round(Math.min(...samples)),
    p50: round(median(samples)),
    p95: round(percentile(samples, 95)),
    max: round(Math.max(...samples)),
    mean: round(mean(samples)),
  };
}

/** Rounds for display and JSON: whole milliseconds hide nothing at these magnitudes. */
export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The per-key median of a list of records with the same numeric keys (for time splits). */
export function medianByKey<K extends string>(records: readonly Record<K, number>[]): Record<K, number> {
  const keys = Object.keys(records[0] ?? {}) as K[];
  return Object.fromEntries(keys.map((key) => [key, round(median(records.map((r) => r[key])))])) as Record<
    K,
    number
  >;
}

/**
 * `items` in the order they take in round `round`: each takes each place in turn, so drift
 * over the rounds (a warming cache, a noisy neighbour) hits all of them alike.
 */
export function rotated<T>(items: readonly T[], round: number): T[] {
  return items.map((_, i) => items[(round + i) % items.length] as T);
}
