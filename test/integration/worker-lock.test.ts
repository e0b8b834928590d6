/**
 * One worker per runtime root: real CLI workers on the suite's dev server and root. A second
 * worker on a root in use is refused at start, naming the root and the holder; the lock goes
 * with its holder, however it ends (a clean stop, SIGKILL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testWorkerCliSettings, testWorkflowBundle } from '../support/worker.js';
import { spawnWorkerCli, startWorkerCli, type WorkerCliProcess } from '../support/worker-cli.js';

let workflowBundlePath: string;
const started: WorkerCliProcess[] = [];

beforeAll(async () => {
  workflowBundlePath = await testWorkflowBundle();
});

afterAll(async () => {
  for (const worker of started) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await worker.exited;
  }
});

async function start(name: string) {
  const worker = await startWorkerCli(testWorkerCliSettings(name, { workflowBundlePath }), { what: name });
  started.push(worker);
  return worker;
}

describe('two workers on one runtime root', () => {
  it('the second is refused at start with the root and the holder pid; the lock goes with its holder', async () => {
    const first = await start('lock-first');
    const root = testWorkerCliSettings('x').root;

    const second = spawnWorkerCli(testWorkerCliSettings('lock-second', { workflowBundlePath }));
    started.push(second);
    const refused = await second.exited;
    expect(refused.exitCode).toBe(2);
    expect(second.stderr()).toContain(`runtime root ${root} is in use by pid ${first.pid} (`);

    // A clean stop lets go of it...
    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ exitCode: 0, signal: undefined });
    const third = await start('lock-third');
    expect(third.ready.pid).toBe(third.pid);

    // ...and so does a SIGKILL: the kernel drops a dead holder's lock, nothing stale is left.
    third.child.kill('SIGKILL');
    await third.exited;
    const fourth = await start('lock-fourth');
    fourth.child.kill('SIGTERM');
    expect(await fourth.exited).toEqual({ exitCode: 0, signal: undefined });
  });
});
