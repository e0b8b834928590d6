/**
 * The short version of the chaos suite (`npm run chaos` runs the whole of it): the same
 * scenarios and the same end-of-scenario audit, smaller. Two worker kills, the hanging
 * runtime, one resource step (a full /tmp) and a 5-pipeline cancellation storm, against the
 * suite's dev server, each scenario with runsc roots of its own. `CHAOS_SEED` replays a run.
 */
import { rmdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SuiteEnv } from '../../chaos/harness.js';
import { freshSeed } from '../../chaos/random.js';
import type { Scenario, SuiteOptions } from '../../chaos/scenario.js';
import { cancelStorm } from '../../chaos/scenarios/cancel-storm.js';
import { hangingRuntime } from '../../chaos/scenarios/hanging-runtime.js';
import { tmpfsFull } from '../../chaos/scenarios/tmpfs-full.js';
import { workerKill } from '../../chaos/scenarios/worker-kill.js';
import { type ChaosServer, existingChaosServer } from '../../chaos/server.js';
import { runScenario } from '../../chaos/suite.js';
import { removeRootBase } from '../../chaos/teardown.js';

const options: SuiteOptions = { rounds: 2, stormSize: 5 };
const seed = Number(process.env.CHAOS_SEED ?? freshSeed());
const rootBase = `/run/temporal-runsc-chaos/short-${process.pid}`;
// Outside the suite's work folder, so that a failed scenario's logs outlive the run.
const workBase = `/tmp/temporal-runsc-chaos/short-${process.pid}`;
let server: ChaosServer;
let env: SuiteEnv;

beforeAll(async () => {
  server = await existingChaosServer(inject('temporalAddress'));
  env = {
    server,
    rootfs: inject('rootfs'),
    rootBase,
    workBase,
    runTag: `s${process.pid}`,
    seed,
  };
  console.log(`chaos-short seed=${seed} (replay: CHAOS_SEED=${seed})`);
});

afterAll(async () => {
  await server?.close();
  const notes = await removeRootBase(rootBase);
  expect(notes, 'every scenario root is removed through the cleanup').toEqual([]);
  await rmdir(workBase).catch(() => undefined); // kept when a failed scenario left its logs
});

async function passes(scenario: Scenario): Promise<void> {
  const outcome = await runScenario(env, scenario, options, new AbortController().signal);
  console.log(outcome.line);
  expect(outcome.passed, outcome.line).toBe(true);
}

describe('chaos, short version: every scenario ends with a clean host and true exit codes', () => {
  it('survives a worker SIGKILLed at random moments (2 rounds)', () => passes(workerKill), 240_000);
  it(
    'stays responsive and reports it when the runtime hangs on a held lock',
    () => passes(hangingRuntime),
    180_000,
  );
  it('reports a step that fills its /tmp with its own exit code', () => passes(tmpfsFull), 120_000);
  it('cancels 5 pipelines at once, leaving nothing behind', () => passes(cancelStorm), 180_000);
});
