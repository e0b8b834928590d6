/**
 * One worker per runtime root, and one per host queue on a machine: real CLI workers on the suite's dev server and root. A second
 * worker on a root in use is refused at start, naming the root and the holder; the lock goes
 * with its holder, however it ends (a clean stop, SIGKILL).
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
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

describe('two workers on one machine with the same host queue', () => {
  it('the second, on another root, is refused naming the queue and the holder, and sweeps nothing', async () => {
    const firstSettings = testWorkerCliSettings('queue-first', { workflowBundlePath });
    const first = await startWorkerCli(firstSettings, { what: 'queue-first' });
    started.push(first);
    // Another root and work dir, the same --host (and so the same <task-queue>@<host>).
    const otherRoot = join(inject('workDir'), `queue-root-${firstSettings.taskQueue}`);
    const otherWork = join(inject('workDir'), `queue-work-${firstSettings.taskQueue}`);
    try {
      const second = spawnWorkerCli({ ...firstSettings, root: otherRoot, workDir: otherWork });
      started.push(second);
      const refused = await second.exited;
      expect(refused.exitCode).toBe(2);
      expect(second.stderr()).toContain(
        `host queue ${firstSettings.hostQueue} is served by pid ${first.pid} (`,
      );
      expect(second.stderr()).toContain('give this worker another --host');
      // Refused before its sweep and its work dir: its root holds nothing.
      expect(existsSync(otherWork)).toBe(false);
      expect(await readdir(otherRoot).catch(() => [])).toEqual([]);

      // Another host name on the same machine is served.
      const third = await startWorkerCli(
        {
          ...firstSettings,
          host: 'queue-third-host',
          hostQueue: `${firstSettings.taskQueue}@queue-third-host`,
          root: otherRoot,
          workDir: otherWork,
        },
        { what: 'queue-third' },
      );
      started.push(third);
      expect(third.ready.hostQueue).toBe(`${firstSettings.taskQueue}@queue-third-host`);
      third.child.kill('SIGTERM');
      expect(await third.exited).toEqual({ exitCode: 0, signal: undefined });
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
      await rm(otherRoot, { recursive: true, force: true });
      await rm(otherWork, { recursive: true, force: true });
    }
  });
});
