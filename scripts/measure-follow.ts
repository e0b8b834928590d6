// Measures what following a step costs and how fast its lines arrive: a dev server, a worker
// in this process, one pipeline per scenario whose step prints for as long as it is followed
// (chatty: a line every 0.2 s; quiet: one line, then nothing), followed with the client's
// stepLog for --seconds. Reports the follow latency (the worker received a line -> the
// follower yields it), the reads (readStepLog workflows) and their history events per minute,
// and how much the pipeline's own history grew meanwhile. Run as root:
//   npx tsx scripts/measure-follow.ts [--seconds 60] [--runtime /path/to/runsc]
import { mkdir, rm } from 'node:fs/promises';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { cancelPipeline, pipelineResult, startPipeline } from '../src/client/index.js';
import { stepLog } from '../src/client/logs.js';
import { startDevServer } from '../src/dev-server.js';
import { removeNullNetns } from '../src/host/state-root.js';
import { ensureBusyboxRootfs } from '../src/rootfs.js';
import { createSandboxWorker } from '../src/worker/index.js';

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}

Runtime.install({ logger: new DefaultLogger('WARN') });
const seconds = Number(flag('seconds') ?? 60);
const port = 17000 + (process.pid % 2000);
const root = `/run/temporal-runsc-measure-follow/${process.pid}`;
const workDir = `/tmp/temporal-runsc-measure-follow-${process.pid}`;
const taskQueue = 'measure-follow';

const server = await startDevServer({ port, headless: true });
await mkdir(root, { recursive: true });
const nativeConnection = await NativeConnection.connect({ address: server.address });
const worker = await createSandboxWorker({
  connection: nativeConnection,
  taskQueue,
  runtime: { command: flag('runtime') ?? 'runsc', root, network: 'none' },
  workDir,
  rootfs: await ensureBusyboxRootfs(),
  lockRoot: false,
  sweepOnStart: false,
});
const running = worker.run();
const connection = await Connection.connect({ address: server.address });
const client = new Client({ connection });

async function historyLength(handle: WorkflowHandle): Promise<number> {
  return (await handle.fetchHistory()).events?.length ?? 0;
}

async function scenario(name: string, script: string): Promise<void> {
  const handle = await startPipeline(
    client,
    { name, steps: [{ name: 'step', timeout: '1h', args: ['/bin/sh', '-c', script] }] },
    { taskQueue },
  );
  const latencies: number[] = [];
  let pipelineBefore = 0;
  const started = Date.now();
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), seconds * 1000);
  for await (const entry of stepLog(handle, 'step', { follow: true, signal: stop.signal })) {
    if (entry.type !== 'output') continue;
    if (!pipelineBefore) pipelineBefore = await historyLength(handle);
    latencies.push(Date.now() - Date.parse(entry.time));
  }
  clearTimeout(timer);
  const minutes = (Date.now() - started) / 60_000;
  const pipelineAfter = await historyLength(handle);
  let reads = 0;
  let events = 0;
  for await (const execution of client.workflow.list({
    query: `WorkflowType = 'readStepLog' AND WorkflowId STARTS_WITH '${handle.workflowId}/logs/'`,
  })) {
    reads++;
    events += await historyLength(client.workflow.getHandle(execution.workflowId, execution.runId));
  }
  await cancelPipeline(handle);
  await pipelineResult(handle);
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  console.log(
    JSON.stringify({
      scenario: name,
      followedSeconds: Math.round(minutes * 60),
      lines: latencies.length,
      latencyMs: { p50: at(0.5), p90: at(0.9), max: sorted.at(-1) },
      readsPerMinute: Math.round(reads / minutes),
      historyEventsPerMinute: Math.round(events / minutes),
      eventsPerRead: reads ? Math.round((events / reads) * 10) / 10 : 0,
      pipelineHistoryGrowth: pipelineAfter - pipelineBefore,
    }),
  );
}

try {
  await scenario('chatty', 'i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.2; done');
  await scenario('quiet', 'echo hello; sleep 3600');
} finally {
  worker.shutdown();
  await running;
  await connection.close();
  await nativeConnection.close();
  await server.stop();
  await rm(workDir, { recursive: true, force: true });
  // The current runsc leaves a bind-mounted network namespace in its root (DESIGN.md).
  await removeNullNetns(root).catch(() => undefined);
  await rm(root, { recursive: true, force: true }).catch(() => undefined);
}
