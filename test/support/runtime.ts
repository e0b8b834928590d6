import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { inject } from 'vitest';
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
