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
import { type ChaosServer, startChaosServer } from './server.js';
import { runScenario } from './suite.js';
import { removeRootBase } from './teardown.js';

let options: ReturnType<typeof parseChaosOptions>;
try {
  options = parseChaosOptions(process.argv.slice(2));
} catch (error) {
  console.error(`chaos: ${(error as Error).message}`);
  process.exit(2);
}
const unknown = options.only.filter((name) => !allScenarios.some((s) => s.name === name));
if (unknown.length > 0) {
  const names = allScenarios.map((s) => s.name).join(', ');
  console.error(`chaos: no scenario ${unknown.join(', ')}; there are ${names}`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('chaos: runsc needs root: run it as root');
  process.exit(2);
}
const scenarios = allScenarios.filter((s) => options.only.length === 0 || options.only.includes(s.name));

// Ctrl-C (or SIGTERM, or an error nobody caught) ends the current scenario through its normal
// teardown, so its processes are ended and its roots removed; the rest are not run.
const interrupt = new AbortController();
let interrupts = 0;
const onSignal = (signal: NodeJS.Signals) => {
  interrupts++;
  if (interrupts === 1) {
    console.error(`chaos: ${signal}: ending the current scenario and cleaning up (again to kill at once)`);
    interrupt.abort(new Error(`interrupted by ${signal}`));
  } else {
    killAllChildrenNow();
    process.exit(130);
  }
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
let unexpected: Error | undefined;
process.on('uncaughtException', (error) => {
  console.error(`chaos: unexpected error: ${error.stack ?? error.message}`);
  unexpected ??= error;
  if (!interrupt.signal.aborted) interrupt.abort(error);
});

const rootBase = `/run/temporal-runsc-chaos/${process.pid}`;
const workBase = `/tmp/temporal-runsc-chaos/${process.pid}`;
console.log(
  `chaos seed=${options.seed} rounds=${options.rounds} storm=${options.stormSize} (replay: npm run chaos -- --seed ${options.seed})`,
);

await mkdir(workBase, { recursive: true });
let passed = 0;
let failed = 0;
let server: ChaosServer | undefined;
try {
  server = await startChaosServer({ dbFile: join(workBase, 'temporal.db'), preferredPort: 27233 });
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
      console.log(`FAIL ${scenario.name}: not run (${(interrupt.signal.reason as Error).message})`);
      failed++;
      continue;
    }
    const outcome = await runScenario(env, scenario, options, interrupt.signal);
    console.log(outcome.line);
    if (outcome.passed) passed++;
    else failed++;
  }
} catch (error) {
  // Only the set-up can get here (a scenario's own failures become its FAIL line).
  for (const scenario of scenarios.slice(passed + failed)) {
    console.log(`FAIL ${scenario.name}: not run (${(error as Error).message})`);
    failed++;
  }
} finally {
  await server?.close();
  for (const note of await removeRootBase(rootBase)) console.error(`chaos: ${note}`);
  await rmdir('/run/temporal-runsc-chaos').catch(() => undefined); // only when no other run uses it
  // Failed scenarios keep their logs in the work folder; the server's history goes either way.
  for (const name of await readdir(workBase).catch(() => [] as string[])) {
    if (name.startsWith('temporal.db')) await rm(join(workBase, name), { force: true });
  }
  if (failed === 0 && !options.keep) {
    await rm(workBase, { recursive: true, force: true });
    await rmdir('/tmp/temporal-runsc-chaos').catch(() => undefined);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(interrupt.signal.aborted && !unexpected ? 130 : failed === 0 && !unexpected ? 0 : 1);
