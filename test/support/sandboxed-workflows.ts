/**
 * Workflows of a user's own for the runSandboxed tests: served by a plain worker on a task
 * queue of its own (test/integration/run-sandboxed.test.ts), given the sandbox queue.
 */
import {
  type HostTarget,
  runSandboxed,
  type SandboxedOptions,
  type SandboxedSpec,
  type SandboxFailure,
  sandboxFailure,
  sandboxHost,
} from '../../workflows/index.js';

/** Two steps through a handle pinned to `target`; reports where each ran and where it ends. */
export async function pinnedHost(
  taskQueue: string,
  target: HostTarget,
): Promise<{ ran: string[]; target: HostTarget }> {
  const host = await sandboxHost({ taskQueue, target, queueTimeout: '2s' });
  const first = await host.run({ name: 'first', args: ['/bin/true'] });
  const second = await host.run({ name: 'second', args: ['/bin/true'] });
  return { ran: [first.host, second.host], target: host.target };
}

/** The failure of a step, told apart by sandboxFailure (or undefined when it succeeded). */
export async function failureOf(
  spec: SandboxedSpec,
  options: SandboxedOptions,
): Promise<SandboxFailure | { type: 'unknown'; message: string } | undefined> {
  try {
    await runSandboxed(spec, options);
    return undefined;
  } catch (error) {
    return sandboxFailure(error) ?? { type: 'unknown', message: String(error) };
  }
}
