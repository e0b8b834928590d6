import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { expect, inject } from 'vitest';
import { type BundleSpecInput, createBundle } from '../../src/bundle/index.js';
import { Runsc } from '../../src/runtime/index.js';

/** The runtime every integration test uses: real runsc, the suite's own state root, ptrace. */
export function testRuntime(): Runsc {
  return new Runsc({ root: inject('runscRoot'), platform: 'ptrace', network: 'none' });
}

export function uniqueId(name: string): string {
  return `trs-test-${name}-${randomBytes(4).toString('hex')}`;
}

/** Writes a bundle for `args` on the suite's busybox rootfs; returns its folder. */
export async function testBundle(
  id: string,
  args: string[],
  spec: Partial<BundleSpecInput> = {},
): Promise<string> {
  return createBundle(join(inject('workDir'), 'bundles', id), {
    rootfs: inject('rootfs'),
    args,
    ...spec,
  });
}

export function testLogPath(id: string): string {
  return join(inject('workDir'), 'logs', `${id}.log`);
}

/** Waits until the runtime reports the container in `status` (10 s at most). */
export async function waitForStatus(
  runtime: Runsc,
  id: string,
  status: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await runtime.state(id).catch(() => undefined))?.status !== status) {
    if (Date.now() > deadline) throw new Error(`container ${id} never became ${status}`);
    await sleep(25);
  }
}

/**
 * Leaves a container listed as `stopped`, as a worker killed mid-step does: its `runsc run` is
 * SIGKILLed behind the library's back (runsc does not forward the signal, DESIGN.md).
 */
export async function leaveStopped(runtime: Runsc, id: string): Promise<void> {
  const bundle = await testBundle(id, ['/bin/sleep', '60']);
  const child = execa(
    'runsc',
    [`--root=${runtime.stateRoot}`, '--platform=ptrace', '--network=none', 'run', '--bundle', bundle, id],
    { reject: false },
  );
  await waitForStatus(runtime, id, 'running');
  child.kill('SIGKILL');
  await child;
  expect((await runtime.state(id)).status).toBe('stopped');
}
