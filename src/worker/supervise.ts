/**
 * Runs the process's SDK workers as one: if any of them stops or fails while the others run (a
 * lost namespace, say), the others are shut down too and the whole ends with WorkerStopped, so
 * that a supervisor restarts the process. Half a worker must never stay up: a shared worker
 * that keeps handing out this host (the `hostQueue` activity) while nobody serves the host's
 * queue strands every step sent there until its queue timeout.
 *
 * Measured with @temporalio/worker 1.24: a lost server is not such a fault (polls are retried
 * as long as it is down, every worker alike); a namespace that is gone is, about 60 s later
 * (the SDK's grace for "fatal" poll errors), and then the workers' run() either rejects with an
 * unrelated finalization error or never settles. So faults are read from the workers' states
 * as well as from run(), and the wait after a fault is bounded.
 */

/** What supervision needs of an SDK Worker (a subset, so that its unit test can fake one). */
export interface SupervisableWorker {
  run(): Promise<void>;
  shutdown(): void;
  getState(): string;
}

export interface SupervisedWorker {
  /** The task queue it polls: names it in errors. */
  queue: string;
  worker: SupervisableWorker;
}

export interface SuperviseOptions {
  /** After a fault, how long the other workers get to shut down (their drain and abort). */
  settleMs: number;
  /** Runs after a fault, once the workers have settled or settleMs has passed. */
  afterFault?: () => Promise<void>;
  /** Signals that ask the SDK workers to shut down: a stop after one is not a fault. */
  shutdownSignals?: readonly NodeJS.Signals[];
  /** Rejects when something the workers rely on is lost (the root lock): a fault too. */
  lost?: Promise<never>;
  /** How often the workers' states are read. Default 250 ms. */
  pollMs?: number;
}

/** The process's workers stopped on their own: it no longer serves its host as a whole. */
export class WorkerStopped extends Error {
  override name = 'WorkerStopped';
}

export interface Supervision {
  /** Resolves once every worker has stopped after a shutdown; rejects with WorkerStopped. */
  done: Promise<void>;
  /** Asks every running worker to shut down (a stop after it is not a fault). */
  shutdown(): void;
}

const terminalStates = new Set(['STOPPED', 'FAILED']);

export function superviseWorkers(
  workers: readonly SupervisedWorker[],
  options: SuperviseOptions,
): Supervision {
  let shutdownRequested = false;
  const shutdown = () => {
    shutdownRequested = true;
    for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  const onSignal = () => {
    // The SDK's own handler shuts the workers down; this only records that it was asked.
    shutdownRequested = true;
  };
  for (const signal of options.shutdownSignals ?? []) process.once(signal, onSignal);

  const outcomes: ({ ok: true } | { ok: false; error: unknown } | undefined)[] = workers.map(() => undefined);
  let wake: () => void = () => undefined;
  const runs = workers.map(({ worker }, i) =>
    worker.run().then(
      () => {
        outcomes[i] = { ok: true };
        wake();
      },
      (error: unknown) => {
        outcomes[i] = { ok: false, error };
        wake();
      },
    ),
  );
  let lostError: Error | undefined;
  options.lost?.catch((error: Error) => {
    lostError = error;
    wake();
  });

  /** The first fault, described; undefined while all is well. */
  const fault = (): string | undefined => {
    if (lostError) return lostError.message;
    for (const [i, { queue, worker }] of workers.entries()) {
      const outcome = outcomes[i];
      if (outcome && !outcome.ok) return `the worker on ${queue} failed: ${messageOf(outcome.error)}`;
      if (worker.getState() === 'FAILED') return `the worker on ${queue} failed`;
      const stopped = outcome?.ok || worker.getState() === 'STOPPED';
      if (stopped && !shutdownRequested) return `the worker on ${queue} stopped without being asked to`;
    }
    return undefined;
  };
  const allSettled = () =>
    workers.every(({ worker }, i) => outcomes[i] !== undefined || terminalStates.has(worker.getState()));

  const done = (async () => {
    const pollMs = options.pollMs ?? 250;
    try {
      let found = fault();
      while (!found && !outcomes.every(Boolean)) {
        await nap(pollMs, (w) => {
          wake = w;
        });
        found = fault();
      }
      if (!found) return;

      for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      const deadline = Date.now() + options.settleMs;
      while (!allSettled() && Date.now() < deadline) {
        await nap(pollMs, (w) => {
          wake = w;
        });
      }
      await options.afterFault?.();
      throw new WorkerStopped(
        `${found}; this process no longer serves its host as a whole, so it stopped all its workers (running steps were aborted): restart it`,
      );
    } finally {
      for (const signal of options.shutdownSignals ?? []) process.off(signal, onSignal);
      // Runs that settle later (or never) must not count as unhandled.
      void Promise.allSettled(runs);
    }
  })();
  return { done, shutdown };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Sleeps up to `ms`, or until the returned wake-up is called (a run settled). */
function nap(ms: number, setWake: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    setWake(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
