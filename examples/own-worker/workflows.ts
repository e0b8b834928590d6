/**
 * Workflows of one's own, on a worker and task queue of their own (worker.ts), each running a
 * step in a gVisor sandbox on the sandbox workers (`temporal-runsc worker`, task queue
 * `temporal-runsc`). The README's "Library API" shows these.
 */
// In your project: from 'temporal-runsc/workflows'.
import { runSandboxed, type SandboxedSpec, sandboxHost } from '../../workflows/index.js';

/** Counts the words of a text in a sandbox; the step is retried up to 3 times. */
export async function wordCount(text: string): Promise<number> {
  const r = await runSandboxed(
    { args: ['/bin/sh', '-c', 'echo "$TEXT" | wc -w'], env: { TEXT: text } },
    { retry: { maximumAttempts: 3 } },
  );
  return Number(r.stdoutTail.trim());
}

/** Runs what the caller gives, retried up to 3 times; returns its exit code and output. */
export async function sandboxed(spec: SandboxedSpec): Promise<{ exitCode: number; stdout: string }> {
  const r = await runSandboxed(spec, { retry: { maximumAttempts: 3, initialInterval: '200ms' } });
  return { exitCode: r.exitCode, stdout: r.stdoutTail };
}

/** Two steps on one host: the second sees what the first left in a host folder they share. */
export async function buildThenTest(dir: string): Promise<{ hosts: string[]; output: string }> {
  const host = await sandboxHost();
  const mounts = [{ source: dir, destination: '/work', readOnly: false }];
  const build = await host.run({
    name: 'build',
    args: ['/bin/sh', '-c', 'echo built > /work/artifact'],
    mounts,
  });
  const test = await host.run({ name: 'test', args: ['/bin/cat', '/work/artifact'], mounts });
  return { hosts: [build.host, test.host], output: test.stdoutTail };
}
