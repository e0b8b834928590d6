import { randomBytes } from 'node:crypto';
import { mkdir, rm, rmdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { expect, inject } from 'vitest';
import { type BundleSpecInput, createBundle } from '../../src/bundle/index.js';
import { cleanupHost } from '../../src/host/cleanup.js';
import { globalArgs, Runsc } from '../../src/runtime/index.js';

/**
 * The runtime every integration test uses: the runsc build under test (by path), the suite's own
 * state root, the build's default platform.
 */
export function testRuntime(): Runsc {
  return new Runsc({ command: inject('runtimeCommand'), root: inject('runscRoot'), network: 'none' });
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
 * SIGKILLed behind the library's back (runsc does not forward the signal, DESIGN.md). Current
 * runsc still says `running` for up to about 2 s after that (measured 1.6 s), the 2022 build
 * `stopped` at once: wait for it.
 */
export async function leaveStopped(runtime: Runsc, id: string): Promise<void> {
  const bundle = await testBundle(id, ['/bin/sleep', '60']);
  const child = execa(runtime.command, [...runtimeGlobalArgs(runtime), 'run', '--bundle', bundle, id], {
    reject: false,
  });
  await waitForStatus(runtime, id, 'running');
  child.kill('SIGKILL');
  await child;
  await waitForStatus(runtime, id, 'stopped');
  expect((await runtime.state(id)).status).toBe('stopped');
}

/** The global flags `runtime` passes (root, platform if any, network), for spawning it by hand. */
export function runtimeGlobalArgs(runtime: Runsc): string[] {
  return globalArgs(runtime.options);
}

/**
 * Empties a state root a test made for itself through the library's cleanup (current runsc
 * leaves a mounted `null-netns` in every root it used), then removes the empty folder.
 */
export async function removeTestRoot(root: string): Promise<void> {
  const report = await cleanupHost(new Runsc({ command: inject('runtimeCommand'), root }), { wipe: true });
  expect(report.problems, `cleanup of ${root}`).toEqual([]);
  await rmdir(root);
}

/**
 * A PATH whose `runsc` is the build under test, for commands that call `runsc` by name (the
 * CLI's default, as a user's PATH would give it).
 */
export async function pathWithRuntimeUnderTest(): Promise<string> {
  const command = inject('runtimeCommand');
  if (!command.includes('/')) return process.env.PATH ?? '';
  const dir = join(inject('workDir'), 'runtime-on-path');
  await mkdir(dir, { recursive: true });
  await rm(join(dir, 'runsc'), { force: true });
  await symlink(command, join(dir, 'runsc'));
  return `${dir}:${process.env.PATH ?? ''}`;
}
