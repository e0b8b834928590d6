/**
 * `npm run chaos`: every scenario against real runsc and a real Temporal dev server, each
 * ending in the same audit. Prints the seed, one line per scenario, then `N passed, M failed`;
 * exits 0 only when all passed. Ctrl-C ends every process it started and removes its roots
 * (a second Ctrl-C kills them at once).
 */
import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBusyboxRootfs } from '../src/rootfs.js';
import { killAllChildrenNow } from './children.js';
import type { SuiteEnv } from './harness.js';
import { parseChaosOptions } from './options.js';
import { allScenarios } from './scenarios/index.js';
import { startChaosServer } from './server.js';
import { runScenario } from './suite.js';

let options: ReturnType<typeof parseChaosOptions>;
try {
  options = parseChaosOptions(process.argv.slice(2));
} catch (error) {
  console.error(`chaos: ${(error as Error).message}`);
  process.exit(2);
}
const unknown = options.only.filter((name) => !allScenarios.some((s) => s.name === name));
if (unknown.length > 0) {
  console.error(
    `chaos: no scenario ${unknown.join(', ')}; there are ${allScenarios.map((s) => s.name).join(', ')}`,
  );
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('chaos: runsc needs root: run it as root');
  process.exit(2);
}
const scenarios = allScenarios.filter((s) => options.only.length === 0 || options.only.includes(s.name));

const interrupt = new AbortController();
let interrupts = 0;
const onSignal = (signal: NodeJS.Signals) => {
  interrupts++;
  if (interrupts === 1) {
    console.error(`chaos: ${signal}: ending the current scenario and cleaning up (again to kill at once)`);
    interrupt.abort(new Error(signal));
  } else {
    killAllChildrenNow();
    process.exit(130);
  }
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const rootBase = `/run/temporal-runsc-chaos/${process.pid}`;
const workBase = `/tmp/temporal-runsc-chaos/${process.pid}`;
console.log(
  `chaos seed=${options.seed} rounds=${options.rounds} storm=${options.stormSize} (replay: npm run chaos -- --seed ${options.seed})`,
);

await mkdir(workBase, { recursive: true });
let passed = 0;
let failed = 0;
const server = await startChaosServer({ dbFile: join(workBase, 'temporal.db'), preferredPort: 27233 }).catch(
  async (error: Error) => {
    console.log(`FAIL setup: cannot start the Temporal dev server: ${error.message}`);
    return undefined;
  },
);
try {
  if (!server) {
    failed = scenarios.length;
  } else {
    const env: SuiteEnv = {
      server,
      rootfs: await ensureBusyboxRootfs(),
      rootBase,
      workBase,
      runTag: `c${process.pid}`,
      seed: options.seed,
    };
    for (const scenario of scenarios) {
      if (interrupt.signal.aborted) {
        console.log(`FAIL ${scenario.name}: not run (interrupted)`);
        failed++;
        continue;
      }
      const outcome = await runScenario(env, scenario, options, interrupt.signal);
      console.log(outcome.line);
      if (outcome.passed) passed++;
      else failed++;
    }
  }
} finally {
  await server?.close();
  await rm(rootBase, { recursive: true, force: true });
  await rmdir('/run/temporal-runsc-chaos').catch(() => undefined); // only when no other run uses it
  // Failed scenarios keep their logs in the work folder; the server's history goes either way.
  for (const name of await readdir(workBase).catch(() => [] as string[])) {
    if (name.startsWith('temporal.db')) await rm(join(workBase, name), { force: true });
  }
  if (failed === 0 && !options.keep) await rm(workBase, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(interrupt.signal.aborted ? 130 : failed === 0 ? 0 : 1);
