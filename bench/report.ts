/** The readable table: one line a figure, its target and verdict, and what it is made of. */
import type { CpuTimes } from './cpu.js';
import { type StepSplit, stepSplitLabels } from './scenarios/step-overhead.js';
import { type FloorSplit, floorSplitLabels } from './scenarios/temporal-floor.js';
import type { BenchJson, Verdict } from './summary.js';

type Row = [figure: string, value: string, target: string, verdict: string];

export function renderTable(json: BenchJson): string {
  const { details, targets, meta } = json;
  const rows: Row[] = [];
  const row = (figure: string, value: string, verdict?: Verdict, target = verdict?.target ?? '') =>
    rows.push([figure, value, target, verdict ? verdictText(verdict) : '']);
  const sub = (figure: string, value: string) => rows.push([`  ${figure}`, value, '', '']);

  const raw = details.raw;
  row('rawRunMs: runsc run /bin/true (the floor)', ms(json.rawRunMs), undefined, 'floor');
  if (raw) sub('same container through the Runsc client', ms(raw.runscClientRunMs.p50));
  if (raw) {
    sub('current runsc build (its default platform)', ms(raw.rawRunMsByBuild.current?.p50 ?? null));
    sub("Debian's 2022 runsc build (its default platform)", ms(raw.rawRunMsByBuild.debian2022?.p50 ?? null));
  }
  row(
    'runcRunMs: runc run /bin/true',
    json.runcRunMs === null ? 'n/a (runc not installed)' : ms(json.runcRunMs),
  );

  const overhead = details.overhead;
  row('stepOverheadMs: one-step pipeline - raw run', ms(json.stepOverheadMs), targets.stepOverheadMs);
  if (overhead) {
    sub(`end to end ${ms(overhead.endToEndMs.p50)}, raw beside it ${ms(overhead.rawRunMs.p50)}`, '');
    sub(`where the end-to-end time goes (median of each part; host pick: ${overhead.hostPick}):`, '');
    const labels = stepSplitLabels(overhead.hostPick);
    for (const [key, label] of Object.entries(labels) as [keyof StepSplit, string][]) {
      sub(`  ${label}`, ms(overhead.splitMs[key]));
    }
    sub('  of which Runsc.run beyond the raw run beside it', ms(overhead.runtimeBeyondRawMs));
    const tasks = overhead.workflowTaskMs;
    sub(
      'first workflow task: dispatch / processing (with local activity)',
      `${ms(tasks.firstDispatch)} / ${ms(tasks.firstProcessing)}`,
    );
    sub(
      'last workflow task: dispatch / processing',
      `${ms(tasks.lastDispatch)} / ${ms(tasks.lastProcessing)}`,
    );
    sub(
      `workflow tasks / signals / history events per one-step run`,
      `${overhead.workflowTasksPerRun} / ${overhead.signalsPerRun} / ${overhead.historyEventsPerRun}`,
    );
    sub('runsc commands per step, alone', callsText(overhead.runtimeCallsPerStep.alone));
    sub(
      `runsc commands per step, ${2 * overhead.runtimeCallsPerStep.concurrency} steps at concurrency ${overhead.runtimeCallsPerStep.concurrency}`,
      callsText(overhead.runtimeCallsPerStep.concurrent),
    );
    sub(
      'CPU per one-step pipeline: bench+worker / runsc / dev server',
      cpuText(overhead.cpuPerRunMs.pipeline),
    );
    sub('CPU per raw run:           bench / runsc / dev server', cpuText(overhead.cpuPerRunMs.raw));
  }

  const floor = details.floor;
  row('temporalFloorMs: the same one-step shape, no-op activity, no container', ms(json.temporalFloorMs));
  row(
    "libraryOverAboveFloorMs: stepOverheadMs - floor (the library's own)",
    ms(json.libraryOverAboveFloorMs),
  );
  row(
    'bareTemporalFloorMs: least one no-op activity costs here (own queue, eager start and dispatch)',
    ms(json.bareTemporalFloorMs),
  );
  if (floor) {
    sub(`a workflow with nothing in it (eager start: ${floor.eagerStarts})`, ms(floor.emptyWorkflowMs));
    sub(
      `same rounds: end to end ${ms(floor.endToEndMs.p50)}, raw ${ms(floor.rawRunMs.p50)}, stepOverheadMs`,
      ms(floor.stepOverheadMs),
    );
    sub('where the floor goes (median of each part):', '');
    for (const [key, label] of Object.entries(floorSplitLabels) as [keyof FloorSplit, string][]) {
      sub(`  ${label}`, ms(floor.floorSplitMs[key]));
    }
    sub('workflow tasks per floor run', String(floor.workflowTasksPerFloorRun));
    sub('CPU per floor run:         bench+workers / runsc / dev server', cpuText(floor.cpuPerRunMs.floor));
    sub('CPU per one-step pipeline: bench+workers / runsc / dev server', cpuText(floor.cpuPerRunMs.pipeline));
  }

  const pipeline = details.pipeline;
  row(
    `pipeline20Ratio: ${pipeline?.steps ?? 20}-step sequential wall / (steps x raw)`,
    num(json.pipeline20Ratio),
    targets.pipeline20Ratio,
  );
  if (pipeline) {
    sub(
      `pipeline ${ms(pipeline.pipelineWallMs.p50)} vs raw ${ms(pipeline.rawSumMs.p50)}; overhead per step`,
      ms(pipeline.overheadPerStepMs),
    );
    const split = pipeline.perStepSplitMs;
    sub(
      'once per pipeline: start and finish (client <-> first/last step)',
      ms(split.startAndFinishPerPipeline),
    );
    sub('per step (means): workflow task between steps', ms(split.betweenSteps));
    sub('                  runContainer dispatch', ms(split.dispatch));
    sub('                  activity body outside Runsc.run', ms(split.bookkeeping));
    sub(
      '                  Runsc.run, and beyond the raw runs beside it',
      `${ms(split.runtime)}, ${split.runtimeBeyondRaw >= 0 ? '+' : ''}${ms(split.runtimeBeyondRaw)}`,
    );
    sub('workflow tasks per step', String(pipeline.workflowTasksPerStep));
  }

  const throughput = details.throughput;
  row(
    `throughputRatio: ${throughput?.steps ?? 100} steps at concurrency ${throughput?.concurrency ?? 8}, library / raw`,
    num(json.throughputRatio),
    targets.throughputRatio,
  );
  if (json.stepsPerSecond) {
    const rates = json.stepsPerSecond;
    sub(
      'steps per second: library / raw / Temporal with raw runs',
      `${rates.library} / ${rates.raw} / ${rates.floor}`,
    );
  }
  if (throughput) {
    sub('CPU per library step: bench+worker / runsc / dev server', cpuText(throughput.cpuPerStepMs.library));
    sub('CPU per raw run:      bench / runsc / dev server', cpuText(throughput.cpuPerStepMs.raw));
  }
  row(
    'throughputFloorRatio: the same group through Temporal, raw runs as activities, / raw',
    num(json.throughputFloorRatio),
  );
  if (throughput) {
    sub('CPU per floor step:   bench+workers / runsc / dev server', cpuText(throughput.cpuPerStepMs.floor));
  }

  const cancel = details.cancel;
  if (cancel) {
    const term = cancel.exitsOnTerm;
    row(
      `cancelToGoneMs p50 / p95 (exits on TERM, heartbeatTimeout ${term.heartbeatTimeoutMs / 1000} s)`,
      `${ms(term.cancelToGoneMs.p50)} / ${ms(term.cancelToGoneMs.p95)}`,
      targets.cancelToGoneP95Ms,
    );
    sub(
      'cancel -> ActivityTaskCancelRequested (server, workflow task)',
      ms(term.cancelToActivityCancelRequestedMs),
    );
    sub(
      `cancel -> TERM reached the container (abortStep on the control queue in ${term.abortRequests} of ${term.samples.cancelToGoneMs.length})`,
      ms(term.cancelToTermMs),
    );
    sub('TERM reached the container -> container gone', ms(term.termToGoneMs));
    const ignore = cancel.ignoresTerm;
    row(
      `cancelToGoneIgnoringTermMs p50 / p95 (grace ${ignore.graceMs} ms)`,
      `${ms(ignore.cancelToGoneMs.p50)} / ${ms(ignore.cancelToGoneMs.p95)}`,
    );
    sub('cancel -> TERM reached the container', ms(ignore.cancelToTermMs));
    sub('TERM -> container gone (grace, then KILL)', ms(ignore.termToGoneMs));
  } else {
    row('cancelToGoneMs', 'n/a', targets.cancelToGoneP95Ms);
  }

  const crash = details.crash;
  row(
    `crashRecoveryMs: SIGKILL -> step completed${crash ? ` (heartbeatTimeout ${crash.heartbeatTimeoutMs / 1000} s)` : ''}`,
    ms(json.crashRecoveryMs),
  );
  if (crash) {
    sub('kill -> restarted worker ready (spawn, workflow bundle, sweep)', ms(crash.restartMs));
    sub('kill -> retry attempt started', ms(crash.killToRetryStartedMs));
    sub('retry attempt run', ms(crash.retryRunMs));
    sub('kill -> pipeline result at the client', ms(crash.killToResultMs));
    sub(
      '  of which step completed -> workflow completed (sticky queue), per round',
      crash.samples.stepCompletedToWorkflowClosedMs.map((v) => ms(v)).join(', '),
    );
  }

  const rss = details.rss;
  row(
    `workerRssMb at ${rss?.concurrent.containers ?? 16} concurrent containers (peak, MiB)`,
    mb(json.workerRssMb?.at16Containers),
    targets.workerRssAt16Mb,
  );
  if (rss) {
    sub('idle worker', mb(rss.idleMb));
    sub(`most containers seen running at once`, String(rss.concurrent.maxSeenRunning));
    sub("runsc's own processes at full concurrency (not the worker)", mb(rss.concurrent.runtimeProcessesMb));
  }
  row(
    `workerRssMb growth while a step prints ${rss ? gib(rss.flood.bytes) : '1 GiB'}`,
    mb(json.workerRssMb?.floodGrowth),
    targets.workerRssFloodGrowthMb,
  );
  if (rss) {
    sub(
      `flood: ${rss.flood.status}, ${rss.flood.megabytesPerSecond} MiB/s (raw runsc ${rss.flood.rawMegabytesPerSecond} MiB/s), peak`,
      `${mb(rss.flood.peakMb)} (from ${mb(rss.flood.baselineMb)})`,
    );
  }
  for (const long of details.long?.byLength ?? []) {
    row(`long pipeline: ${long.steps} sequential steps, per step`, `${long.msPerStep.toFixed(1)} ms`);
    sub(
      `${long.runs} run(s), largest run history ${long.maxRunHistoryEvents} events / ${(long.maxRunHistoryBytes / 1024 ** 2).toFixed(2)} MiB`,
      ms(long.wallMs),
    );
  }

  const cli = details.cli;
  row('cli --help over bare `node -e 0` (medians)', num(json.cliStartupMs?.helpRatio), targets.cliHelpRatio);
  row('cli status of a finished pipeline', ms(json.cliStartupMs?.status), targets.cliStatusMs);
  if (cli) {
    sub(
      'bare node -e 0 / --help / status',
      `${ms(cli.wallMs.bare.p50)} / ${ms(cli.wallMs.help.p50)} / ${ms(cli.wallMs.status.p50)}`,
    );
    sub(
      'peak RSS bare / --help / status',
      `${mb(cli.maxRssMb.bare)} / ${mb(cli.maxRssMb.help)} / ${mb(cli.maxRssMb.status)}`,
    );
  }

  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0), 6));
  const line = (r: Row) =>
    `${r[0].padEnd(widths[0] as number)}  ${r[1].padStart(widths[1] as number)}  ${r[2].padEnd(widths[2] as number)}  ${r[3]}`.trimEnd();
  const header = line(['figure', 'value', 'target', '']);
  const lines = [header, '-'.repeat(header.length), ...rows.map(line)];
  lines.push('');
  lines.push(
    `${meta.quick ? 'QUICK smoke run (sizes reduced, figures not comparable); ' : ''}--runs ${meta.runs}, ${meta.durationS} s, ${meta.machine.cpus} CPUs, load ${meta.machine.loadAverageAtStart.map((l) => l.toFixed(1)).join(' ')} at start, ${meta.machine.loadAverageAtEnd.map((l) => l.toFixed(1)).join(' ')} at end`,
  );
  for (const note of meta.notes) lines.push(`note: ${note}`);
  for (const [scenario, error] of Object.entries(meta.errors)) lines.push(`ERROR in ${scenario}: ${error}`);
  if (meta.leftBehind.containers.length > 0 || meta.leftBehind.processes.length > 0) {
    lines.push(`LEFT BEHIND (removed at the end): ${JSON.stringify(meta.leftBehind)}`);
  }
  return lines.join('\n');
}

function callsText(calls: Record<string, number>): string {
  return Object.entries(calls)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
}

function cpuText(cpu: CpuTimes): string {
  return `${Math.round(cpu.benchMs)} / ${Math.round(cpu.runtimeMs)} / ${Math.round(cpu.devServerMs)} ms`;
}

function verdictText(verdict: Verdict): string {
  if (verdict.met === null) return '';
  return verdict.met ? 'met' : 'MISSED';
}

function ms(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? 'n/a' : `${Math.round(value)} ms`;
}

function num(value: number | null | undefined): string {
  return value === null || value === undefined ? 'n/a' : value.toFixed(2);
}

function mb(value: number | null | undefined): string {
  return value === null || value === undefined ? 'n/a' : `${value.toFixed(1)} MiB`;
}

function gib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${bytes / 1024 ** 3} GiB` : `${bytes / 1024 ** 2} MiB`;
}
