/**
 * A workflow of one's own served by the sandbox worker itself (worker.ts): it runs on the
 * sandbox task queue, so its host pick is a local activity of the worker that runs it, as a
 * pipeline's is. The package's workflows are served beside it.
 */
// In your project: from 'temporal-runsc/workflows'.
import { runSandboxed } from '../../workflows/index.js';

export * from '../../workflows/index.js';

/** The SHA-256 of a text, computed in a sandbox. */
export async function checksum(text: string): Promise<string> {
  const r = await runSandboxed({
    args: ['/bin/sh', '-c', 'printf %s "$TEXT" | sha256sum'],
    env: { TEXT: text },
  });
  return r.stdoutTail.split(' ')[0] ?? '';
}
