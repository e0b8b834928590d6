/** `npm run chaos -- [--seed N] [--rounds N] [--only <name>[,<name>...]] [--storm N] [--keep]` */
import { freshSeed } from './random.js';

export interface ChaosOptions {
  seed: number;
  rounds: number;
  stormSize: number;
  /** Scenario names to run; all when empty. */
  only: string[];
  /** Keep every scenario's work folder (logs), not only those of failed ones. */
  keep: boolean;
}

export function parseChaosOptions(argv: readonly string[]): ChaosOptions {
  const options: ChaosOptions = { seed: freshSeed(), rounds: 20, stormSize: 20, only: [], keep: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    const count = (min: number) => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min)
        throw new Error(`${flag} must be a whole number of at least ${min}`);
      return n;
    };
    if (flag === '--seed') options.seed = count(0);
    else if (flag === '--rounds') options.rounds = count(1);
    else if (flag === '--storm') options.stormSize = count(1);
    else if (flag === '--keep') options.keep = true;
    else if (flag === '--only') options.only.push(...value().split(',').filter(Boolean));
    else
      throw new Error(`unknown argument ${flag}: use --seed N, --rounds N, --storm N, --only <name>, --keep`);
  }
  return options;
}
