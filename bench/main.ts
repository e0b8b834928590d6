/**
 * The bench itself (bench/run.ts starts it in a process group of its own): the performance
 * figures of the issue, against a real Temporal dev server and real runsc, every library figure
 * taken beside its raw counterpart in the same run. Progress on stderr; the table (or, with
 * --json, one JSON object) on stdout. Exits 1 when a scenario failed or state was left behind;
 * missed targets are reported, not failed on.
 */
import { cpus, loadavg } from 'node:os';
import { execa } from 'execa';
import { devServerDynamicConfig } from '../src/dev-server.js';
import { Runsc, runtimePlatform } from '../src/runtime/index.js';
import { runtimeUnderTest } from '../test/support/runsc-builds.js';
import { BenchHarness, benchDevServerDynamicConfig, inProcessWorkerSettings } from './harness.js';
import { parseOptions, planFor, type ScenarioName, scenarioNames } from './options.js';
import { say } from './progress.js';
import { renderTable } from './report.js';
import { measureCancel } from './scenarios/cancel.js';
import { measureCliStartup } from './scenarios/cli-startup.js';
import { crashStepSettings, measureCrashRecovery } from './scenarios/crash-recovery.js';
import { measureLongPipelines } from './scenarios/long-pipeline.js';
import { measureSequentialPipeline } from './scenarios/pipeline-sequential.js';
import { measureRawRuns } from './scenarios/raw-run.js';
import { measureStepOverhead } from './scenarios/step-overhead.js';
import { measureTemporalFloor } from './scenarios/temporal-floor.js';
import { measureThroughput } from './scenarios/throughput.js';
import { measureWorkerRss } from './scenarios/worker-rss.js';
import { type BenchMeta, buildBenchJson, type ScenarioResults } from './summary.js';

const options = parseOptions(process.argv.slice(2));
const plan = planFor(options);
const startedAt = new Date();
const loadAverageAtStart = loadavg();

if (process.getuid?.() !== 0) {
  say('the bench runs runsc and needs root: run it with sudo');
  process.exit(2);
}
const runscCommand = runtimeUnderTest();
const runscVersion = await firstLine(runscCommand, ['--version']);
if (!runscVersion) {
  say('runsc is not installed: run scripts/setup.sh');
  process.exit(2);
}
const runcVersion = await firstLine('runc', ['--version']);

const harness = new BenchHarness();
let interrupted = false;
const stop = (reason: string) => {
  if (interrupted) return;
  interrupted = true;
  say(`${reason}: stopping everything the bench started`);
  void harness.close().finally(() => process.exit(130));
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop(signal));
// run.ts is gone (killed): nobody would stop us any more, so stop now.
process.on('disconnect', () => stop('the launcher exited'));
// Once stopping, calls still in flight fail as their connections close (the client's retry
// timers throw "Channel has been shut down"): expected, and no reason to skip the cleanup.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    if (!interrupted) throw error;
    say(`while stopping: ${(error as Error)?.message ?? String(error)}`);
  });
}

const results: ScenarioResults = {};
const errors: Record<string, string> = {};
const scenarios: { [K in ScenarioName]: () => Promise<NonNullable<ScenarioResults[K]>> } = {
  raw: () => measureRawRuns(harness, plan),
  overhead: () => measureStepOverhead(harness, plan),
  floor: () => measureTemporalFloor(harness, plan),
  pipeline: () => measureSequentialPipeline(harness, plan),
  throughput: () => measureThroughput(harness, plan),
  cancel: () => measureCancel(harness, plan),
  crash: () => measureCrashRecovery(harness, plan),
  rss: () => measureWorkerRss(harness, plan),
  cli: () => measureCliStartup(harness, plan),
  long: () => measureLongPipelines(harness, plan),
};
async function runScenario<K extends ScenarioName>(name: K): Promise<void> {
  results[name] = await scenarios[name]();
}

try {
  await harness.start({ port: options.port, runcAvailable: runcVersion !== null });
  for (const name of scenarioNames) {
    if (!options.only.has(name) || interrupted) continue;
    say(`scenario ${name}`);
    try {
      await runScenario(name);
    } catch (error) {
      if (interrupted) break;
      errors[name] = (error as Error).stack ?? String(error);
      say(`scenario ${name} failed: ${(error as Error).message}`);
    }
  }
} catch (error) {
  errors.harness = (error as Error).stack ?? String(error);
  say(`the bench could not start: ${(error as Error).message}`);
} finally {
  say('stopping workers, dev server; checking the runtime roots');
}
const leftBehind = await harness.close();
if (interrupted) await new Promise(() => undefined); // the signal handler exits

const meta: BenchMeta = {
  startedAt: startedAt.toISOString(),
  durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
  quick: options.quick,
  runs: options.runs,
  plan,
  machine: { cpus: cpus().length, loadAverageAtStart, loadAverageAtEnd: loadavg() },
  runsc: runscVersion,
  runc: runcVersion,
  settings: {
    runtime: runscCommand,
    platform: (await runtimePlatform(new Runsc({ command: runscCommand }))) ?? 'default',
    network: 'none',
    inProcessWorker: inProcessWorkerSettings,
    crashStep: crashStepSettings,
    defaultStepHeartbeatTimeoutMs: 10_000,
    devServerDynamicConfig: { ...devServerDynamicConfig, ...benchDevServerDynamicConfig },
  },
  notes: [
    ...(runcVersion
      ? []
      : ['runc is not installed (command -v runc): runcRunMs is null; apt-get install runc']),
    'Each library figure is compared with raw runs taken in the same round, order alternating; ratios and overheads are medians of per-round values.',
    'temporalFloorMs is the one-step pipeline shape (local hostQueue activity, then one activity on the host queue) with a no-op activity, on two workers of its own; libraryOverAboveFloorMs is the median of per-round (one-step pipeline - raw run - floor), the three taken in the same round, order rotating.',
    "bareTemporalFloorMs is the cheapest workflow with one no-op activity on this server: no host pick, the activity on the workflow's own queue, started eagerly over the workers' connection with eager activity dispatch on (system.enableActivityEagerExecution, bench only); no activity of any kind can make a step overhead lower than this.",
    'throughputFloorRatio runs the throughput group through Temporal without the library: the same workflow shape on workers laid out as the library lays them out, each activity one raw runtime run of a bundle written before the clock starts; its rounds rotate with the library and raw ones.',
    'The split of the step overhead is the median of each part; parts are from history event times, the client clock and the activity durationMs.',
    'workerRssMb is VmRSS/1024 (MiB) of the compiled CLI worker (`temporal-runsc worker`, with the node flags of its #! line, serving a prebuilt workflow bundle) in a process of its own.',
  ],
  errors,
  leftBehind,
};
const json = buildBenchJson(results, meta);
const table = renderTable(json);
if (options.json) {
  process.stderr.write(`${table}\n`);
  process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
} else {
  process.stdout.write(`${table}\n`);
}
const failed =
  Object.keys(errors).length > 0 || leftBehind.containers.length > 0 || leftBehind.processes.length > 0;
process.exit(failed ? 1 : 0);

async function firstLine(command: string, args: string[]): Promise<string | null> {
  const result = await execa(command, args, { reject: false, timeout: 10_000 });
  if (result.exitCode === 0) return String(result.stdout).split('\n')[0] ?? null;
  say(`${command} ${args.join(' ')}: ${result.shortMessage}`);
  return null;
}
