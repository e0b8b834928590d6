import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { packagedWorkflowsPath } from './index.js';

/**
 * Bundles workflow code once, ahead of time, into one file that createSandboxWorker's
 * `workflowBundle: { codePath }` (or the CLI's `worker --workflow-bundle`) serves. Workers then
 * start without the bundler, and every worker given the same file runs the same code, however
 * the source changes meanwhile, as a deployment should.
 */
export async function writeWorkflowBundle(
  outFile: string,
  workflowsPath: string = packagedWorkflowsPath(),
): Promise<{ path: string; bytes: number }> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(outFile, code);
  return { path: outFile, bytes: Buffer.byteLength(code) };
}

/** The bundler's progress report is webpack's module table: not worth a build log's lines. */
const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, meta?: Record<string, unknown>) => console.warn(message, meta ?? ''),
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};
