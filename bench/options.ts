/**
 * Command-line options of `npm run bench`. Repetition counts derive from `--runs` so one knob
 * scales the whole run; `--quick` is a smoke test of every scenario, not a measurement.
 */

// `floor` right after `overhead`: it reads best beside it, and it reuses its rounds and warm-ups.
export const scenarioNames = [
  'raw',
  'overhead',
  'floor',
  'pipeline',
  'throughput',
  'cancel',
  'crash',
  'rss',
  'cli',
  'long',
] as const;
/** Scenarios `--only` must name: too long for every bench run. */
const optInScenarios: readonly ScenarioName[] = ['long'];
export type ScenarioName = (typeof scenarioNames)[number];

export interface BenchOptions {
  json: boolean;
  quick: boolean;
  /** Base repetition count; each scenario derives its own from it (see `plan`). */
  runs: number;
  only: ReadonlySet<ScenarioName>;
  /** gRPC port of the bench's own dev server (its UI is not started). */
  port: number;
  /** Lengths of the long-pipeline scenario's pipelines (`--long-steps`). */
  longSteps?: number[];
}

/** How many repetitions and how big, per scenario: cheap scenarios repeat more. */
export interface BenchPlan {
  rawRounds: number;
  overheadRounds: number;
  overheadWarmups: number;
  pipelineRounds: number;
  pipelineSteps: number;
  throughputRounds: number;
  throughputSteps: number;
  throughputConcurrency: number;
  cancelRounds: number;
  cancelIgnoringTermRounds: number;
  crashRounds: number;
  rssConcurrentRounds: number;
  rssConcurrentContainers: number;
  floodBytes: number;
  /** Rounds of the CLI start-up scenario (bare node, --help, status). */
  cliRounds: number;
  /** Sequential steps of each long pipeline (scenario `long`). */
  longPipelineSteps: number[];
}

const usage = `usage: npm run bench -- [--json] [--runs N] [--quick] [--only ${scenarioNames.join(',')}] [--port P]
  --json     print one JSON object on stdout (progress goes to stderr)
  --runs N   base repetition count (default 5); heavier scenarios use fewer, cheap ones more
  --quick    a fast smoke of every scenario with small sizes (figures are not comparable)
  --only     run only these scenarios (comma-separated)
  --port     gRPC port of the bench's own Temporal dev server (default 17233)
  --long-steps N[,N...]  lengths of the long pipelines (scenario long, run only when named; default 10,1000)`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    json: false,
    quick: false,
    runs: 5,
    only: new Set(scenarioNames.filter((name) => !optInScenarios.includes(name))),
    port: 17233,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) fail(`${arg} needs a value`);
      return next;
    };
    if (arg === '--json') options.json = true;
    else if (arg === '--quick') options.quick = true;
    else if (arg === '--runs') options.runs = positiveInteger(arg, value());
    else if (arg === '--port') options.port = positiveInteger(arg, value());
    else if (arg === '--only') options.only = scenarioSet(value());
    else if (arg === '--long-steps')
      options.longSteps = value()
        .split(',')
        .map((n) => positiveInteger(arg, n));
    else if (arg === '--help' || arg === '-h') {
      process.stderr.write(`${usage}\n`);
      process.exit(0);
    } else fail(`unknown option ${arg}`);
  }
  return options;
}

export function planFor(options: BenchOptions): BenchPlan {
  if (options.quick) {
    return {
      rawRounds: 3,
      overheadRounds: 3,
      overheadWarmups: 1,
      pipelineRounds: 1,
      pipelineSteps: 5,
      throughputRounds: 1,
      throughputSteps: 16,
      throughputConcurrency: 8,
      cancelRounds: 2,
      cancelIgnoringTermRounds: 1,
      crashRounds: 1,
      rssConcurrentRounds: 1,
      rssConcurrentContainers: 16,
      floodBytes: 64 * 1024 * 1024,
      cliRounds: 5,
      longPipelineSteps: options.longSteps ?? [10],
    };
  }
  const runs = options.runs;
  const half = Math.max(1, Math.ceil(runs / 2));
  return {
    rawRounds: 2 * runs,
    overheadRounds: 3 * runs,
    overheadWarmups: 2,
    pipelineRounds: half,
    pipelineSteps: 20,
    throughputRounds: half,
    throughputSteps: 100,
    throughputConcurrency: 8,
    cancelRounds: 2 * runs,
    cancelIgnoringTermRounds: half,
    crashRounds: half,
    rssConcurrentRounds: half,
    rssConcurrentContainers: 16,
    floodBytes: 1024 * 1024 * 1024,
    cliRounds: 2 * runs,
    longPipelineSteps: options.longSteps ?? [10, 1000],
  };
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) fail(`${flag} must be a whole number above 0, not ${text}`);
  return value;
}

function scenarioSet(text: string): Set<ScenarioName> {
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(scenarioNames as readonly string[]).includes(name)) {
      fail(`--only: unknown scenario ${name} (known: ${scenarioNames.join(', ')})`);
    }
  }
  return new Set(names as ScenarioName[]);
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n${usage}\n`);
  process.exit(2);
}
