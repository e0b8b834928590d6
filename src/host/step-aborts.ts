/**
 * The steps this process is running, by workflow run and step name, so that a cancelled
 * pipeline can reach its running container at once: its workflow sends `abortStep` to this
 * host's control queue, and the activity that runs the step aborts its container right away
 * instead of waiting for the next heartbeat to bring the cancellation.
 *
 * A request may arrive before its step registers (the attempt was dispatched but is still
 * writing its bundle): it is kept for a while, and the step is aborted as it registers.
 */
export class StepAborts {
  private readonly running = new Map<string, AbortController>();
  /** Requests that found no running step: key -> when they came. */
  private readonly early = new Map<string, number>();

  constructor(private readonly earlyRequestTtlMs = 60_000) {}

  /** The key of one step of one workflow run. */
  static key(step: { workflowId: string; runId: string; step: string }): string {
    return JSON.stringify([step.workflowId, step.runId, step.step]);
  }

  /**
   * Registers a running step; its signal aborts when a request for it comes (or came already).
   * Call the returned function when the step has ended.
   */
  register(key: string): { signal: AbortSignal; unregister: () => void } {
    const controller = new AbortController();
    this.running.set(key, controller);
    if (this.early.delete(key)) controller.abort(new StepAbortRequested(key));
    return {
      signal: controller.signal,
      unregister: () => {
        if (this.running.get(key) === controller) this.running.delete(key);
      },
    };
  }

  /** Aborts the step if it runs here; else remembers the request. True when it was running. */
  abort(key: string): boolean {
    const controller = this.running.get(key);
    if (controller) {
      controller.abort(new StepAbortRequested(key));
      return true;
    }
    this.forgetOldRequests();
    this.early.set(key, Date.now());
    return false;
  }

  get size(): number {
    return this.running.size;
  }

  private forgetOldRequests(): void {
    const oldest = Date.now() - this.earlyRequestTtlMs;
    for (const [key, at] of this.early) if (at < oldest) this.early.delete(key);
  }
}

/** The reason of an abort that the step's workflow asked for. */
export class StepAbortRequested extends Error {
  override readonly name = 'StepAbortRequested';
  constructor(readonly key: string) {
    super(`the workflow asked to abort step ${key}`);
  }
}
