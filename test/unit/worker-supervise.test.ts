/**
 * Supervision of the process's SDK workers. One of three stopping alone is a fault the real SDK
 * shows only after minutes or not on demand (worker-fault.test.ts provokes a real one, which
 * stops all three), so these use FakeWorker: a stand-in with the SDK Worker's run/shutdown/state.
 */
import { describe, expect, it } from 'vitest';
import { superviseWorkers, WorkerStopped } from '../../src/worker/supervise.js';

/** A fake SDK worker: run() settles when told to, shutdown() stops it as the SDK's does. */
class FakeWorker {
  state = 'INITIALIZED';
  shutdowns = 0;
  private settle: { resolve: () => void; reject: (error: Error) => void } | undefined;

  getState(): string {
    return this.state;
  }

  run(): Promise<void> {
    this.state = 'RUNNING';
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  shutdown(): void {
    if (this.state !== 'RUNNING') throw new Error(`Not running. Current state: ${this.state}`);
    this.shutdowns++;
    this.state = 'DRAINING';
    setTimeout(() => this.stop(), 10);
  }

  /** Stops on its own (as after a shutdown): run() resolves. */
  stop(): void {
    this.state = 'STOPPED';
    this.settle?.resolve();
  }

  /** Fails on its own: run() rejects. */
  fail(message: string): void {
    this.state = 'FAILED';
    this.settle?.reject(new Error(message));
  }

  /** Fails, but run() never settles (seen with the real SDK after a lost namespace). */
  failHung(): void {
    this.state = 'FAILED';
  }
}

function three() {
  const fakes = [new FakeWorker(), new FakeWorker(), new FakeWorker()];
  const queues = ['shared', 'shared@host', 'shared@host-control'];
  return { fakes, workers: fakes.map((worker, i) => ({ queue: queues[i] as string, worker })) };
}

describe('superviseWorkers', () => {
  it('one worker stopping on its own stops the others and rejects, naming its queue', async () => {
    const { fakes, workers } = three();
    let afterFault = 0;
    const supervision = superviseWorkers(workers, {
      settleMs: 5000,
      pollMs: 10,
      afterFault: async () => void afterFault++,
    });
    fakes[2]?.stop();
    await expect(supervision.done).rejects.toThrow(WorkerStopped);
    await expect(supervision.done).rejects.toThrow(
      /the worker on shared@host-control stopped without being asked to/,
    );
    expect(fakes.map((f) => f.state)).toEqual(['STOPPED', 'STOPPED', 'STOPPED']);
    expect(fakes.map((f) => f.shutdowns)).toEqual([1, 1, 0]);
    expect(afterFault).toBe(1);
  });

  it('one failing stops the others and rejects with its error', async () => {
    const { fakes, workers } = three();
    const supervision = superviseWorkers(workers, { settleMs: 5000, pollMs: 10 });
    fakes[1]?.fail('Namespace nsx is not found.');
    await expect(supervision.done).rejects.toThrow(
      /the worker on shared@host failed: Namespace nsx is not found\./,
    );
    expect(fakes.map((f) => f.state)).toEqual(['STOPPED', 'FAILED', 'STOPPED']);
  });

  it('a failed worker whose run() never settles still ends it, after the others', async () => {
    const { fakes, workers } = three();
    const supervision = superviseWorkers(workers, { settleMs: 60_000, pollMs: 10 });
    fakes[0]?.failHung();
    await expect(supervision.done).rejects.toThrow(/the worker on shared failed/);
    expect(fakes.map((f) => f.state)).toEqual(['FAILED', 'STOPPED', 'STOPPED']);
  });

  it('a lost resource (the root lock) is a fault too', async () => {
    const { fakes, workers } = three();
    const lost = Promise.reject(new Error('lost the lock on the runtime root /run/x'));
    const supervision = superviseWorkers(workers, { settleMs: 5000, pollMs: 10, lost });
    await expect(supervision.done).rejects.toThrow(/lost the lock on the runtime root \/run\/x/);
    expect(fakes.map((f) => f.state)).toEqual(['STOPPED', 'STOPPED', 'STOPPED']);
  });

  it('a requested shutdown resolves once all have stopped, with no fault', async () => {
    const { fakes, workers } = three();
    let afterFault = 0;
    const supervision = superviseWorkers(workers, {
      settleMs: 5000,
      pollMs: 10,
      afterFault: async () => void afterFault++,
    });
    supervision.shutdown();
    await expect(supervision.done).resolves.toBeUndefined();
    expect(fakes.map((f) => f.state)).toEqual(['STOPPED', 'STOPPED', 'STOPPED']);
    expect(afterFault).toBe(0);
  });
});
