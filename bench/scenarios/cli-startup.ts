/**
 * What the CLI's light commands cost a user: wall time and peak RSS of the compiled CLI
 * (dist/src/cli/main.js, with the node flags of its #! line) for `--help` and for `status` of a
 * finished one-step pipeline on the bench's dev server, against a bare `node -e 0` taken in the
 * same rounds (order rotating). `helpRatio` is the median `--help` over the median bare start.
 * Peak RSS is the process's own VmHWM, printed at exit by a preloaded one-liner that every kind
 * (the bare start included) carries alike.
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { BenchHarness } from '../harness.js';
import type { BenchPlan } from '../options.js';
import { runPipeline, trueStep } from '../pipelines.js';
import { say } from '../progress.js';
import { median, rotated, round, type Summary, summarize } from '../stats.js';

const compiledCli = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
/** The flags of the CLI's #! line (src/cli/main.ts). */
const cliNodeFlags = ['--max-semi-space-size=2'];
const rssMarker = 'trs-max-rss-kib=';
/**
 * Printed at exit: VmHWM, the peak RSS of this process image. Not `resourceUsage().maxRSS`,
 * which Linux carries over from the forking parent (the bench itself) through exec.
 */
const printMaxRss = `data:text/javascript,${encodeURIComponent(
  `import { readFileSync } from 'node:fs';
process.on('exit', () => {
  const kib = /VmHWM:\\s*(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  process.stderr.write('\\n${rssMarker}' + kib + '\\n');
});`,
)}`;

type Kind = 'bare' | 'help' | 'status';

export interface CliStartupResult {
  rounds: number;
  wallMs: Record<Kind, Summary & { samples: number[] }>;
  maxRssMb: Record<Kind, number>;
  /** Median `--help` over median bare `node -e 0`. */
  helpRatio: number;
  /** Median `status` over median bare `node -e 0`. */
  statusRatio: number;
}

export async function measureCliStartup(harness: BenchHarness, plan: BenchPlan): Promise<CliStartupResult> {
  const { handle } = await runPipeline(
    harness.client,
    { name: 'bench-cli', steps: [trueStep('one')] },
    harness.taskQueue,
  );
  const commands: Record<Kind, string[]> = {
    bare: ['-e', '0'],
    help: [...cliNodeFlags, compiledCli, '--help'],
    status: [...cliNodeFlags, compiledCli, 'status', handle.workflowId, '--address', harness.address],
  };
  const kinds = Object.keys(commands) as Kind[];
  const wall: Record<Kind, number[]> = { bare: [], help: [], status: [] };
  const rss: Record<Kind, number[]> = { bare: [], help: [], status: [] };
  const once = async (kind: Kind) => {
    const startedAt = performance.now();
    const result = await execa('node', ['--import', printMaxRss, ...commands[kind]], {
      reject: false,
      timeout: 30_000,
    });
    const elapsed = performance.now() - startedAt;
    if (result.exitCode !== 0) throw new Error(`${kind} exited ${result.exitCode}: ${result.stderr}`);
    const kib = Number(String(result.stderr).split(rssMarker)[1]?.trim());
    return { elapsed, kib };
  };
  for (const kind of kinds) await once(kind); // warm the page cache: no round pays for the disk
  for (let i = 0; i < plan.cliRounds; i++) {
    for (const kind of rotated(kinds, i)) {
      const { elapsed, kib } = await once(kind);
      wall[kind].push(elapsed);
      rss[kind].push(kib);
    }
  }
  const wallMs = Object.fromEntries(
    kinds.map((kind) => [kind, { ...summarize(wall[kind]), samples: wall[kind].map((v) => round(v)) }]),
  ) as CliStartupResult['wallMs'];
  const maxRssMb = Object.fromEntries(
    kinds.map((kind) => [kind, round(median(rss[kind]) / 1024)]),
  ) as CliStartupResult['maxRssMb'];
  const result: CliStartupResult = {
    rounds: plan.cliRounds,
    wallMs,
    maxRssMb,
    helpRatio: round(median(wall.help) / median(wall.bare), 2),
    statusRatio: round(median(wall.status) / median(wall.bare), 2),
  };
  say(
    `cli: bare ${wallMs.bare.p50} ms, --help ${wallMs.help.p50} ms (${result.helpRatio}x), status ${wallMs.status.p50} ms (${result.statusRatio}x)`,
  );
  return result;
}
