/**
 * Seedable randomness, so that a failing round can be replayed with `--seed`. mulberry32: tiny,
 * fast, and good enough to pick kill moments; not for anything secret.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new Error('pick from an empty list');
      return item;
    },
  };
}

/**
 * Each scenario draws from its own stream, derived from the suite seed and its name, so that
 * `--only <name> --seed N` replays exactly what the full run did for that scenario.
 */
export function scenarioRandom(seed: number, scenario: string): Random {
  let hash = 2166136261;
  for (const char of scenario) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619);
  return seededRandom((seed ^ hash) >>> 0);
}

export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
