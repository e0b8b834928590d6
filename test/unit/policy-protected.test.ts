/**
 * Protected host paths reached through an allowed parent folder, and the policy's pids values
 * against the worker's own platform floor: both decided when the gate is made or a step admitted.
 */
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyGate } from '../../src/policy/admit.js';
import { parsePolicy } from '../../src/policy/load.js';
import type { SandboxPolicyInput } from '../../src/policy/schema.js';
import { Runsc } from '../../src/runtime/runsc.js';
import { ValidationError } from '../../src/validation.js';

let srv: string;
let rootfs: string;
const runtime = new Runsc({ root: '/run/trs-policy-protected-unit', network: 'none', platform: 'systrap' });

beforeAll(async () => {
  // An operator's /srv: the worker's work dir, and a folder of data beside it.
  srv = await mkdtemp(join(tmpdir(), 'trs-srv-'));
  rootfs = join(srv, 'rootfs');
  for (const dir of [rootfs, join(srv, 'work', 'runs', 'other-attempt'), join(srv, 'data')]) {
    await mkdir(dir, { recursive: true });
  }
  await symlink(srv, join(srv, 'again'));
});

afterAll(async () => {
  await rm(srv, { recursive: true, force: true });
});

async function gate(policy: SandboxPolicyInput, warnings: string[] = [], runtimeClient = runtime) {
  return PolicyGate.create({
    policy: parsePolicy(policy),
    runtime: runtimeClient,
    rootfs,
    workDir: join(srv, 'work'),
    warn: (message) => warnings.push(message),
  });
}

async function problemsOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).problems;
}

const mount = (source: string, readOnly = true) => ({
  step: 's',
  args: ['/bin/true'],
  mounts: [{ source, destination: '/m', readOnly }],
});

describe('a protected path under an allowed folder', () => {
  it('is refused through any parent but the exact path the operator named, and a folder beside it works', async () => {
    const policy = await gate({ mounts: { readWrite: ['/', srv] } });
    // `/` allowed and `/srv` named too: `/srv` is named exactly, whichever entry matches first.
    expect((await policy.admit(mount(srv, false))).bundle.mounts).toHaveLength(1);
    for (const source of [
      join(srv, 'work'),
      join(srv, 'work', 'runs', 'other-attempt'),
      join(srv, 'again', 'work'),
    ]) {
      const problems = await problemsOf(policy.admit(mount(source)));
      expect(problems).toHaveLength(1);
      expect(problems[0]?.field).toBe('mounts[0].source');
      expect(problems[0]?.message).toMatch(
        /(is|is inside) .*\/work \(the worker's work dir, with other attempts' bundles and logs\), which a step may mount only when the operator names that exact source path in policy\.mounts\.readOnly/,
      );
    }
    // A parent the operator did not name: `/` allowed, the step asks for `/tmp/...` (holds the work dir).
    const parent = await problemsOf((await gate({ mounts: { readOnly: ['/'] } })).admit(mount(srv)));
    expect(parent[0]?.message).toContain(`${srv} holds ${join(srv, 'work')} (the worker's work dir`);
    expect((await policy.admit(mount(join(srv, 'data')))).bundle.mounts).toEqual([
      { source: join(srv, 'data'), destination: '/m', readOnly: true },
    ]);
  });

  it('refuses the runtime state root and system paths through an allowed parent', async () => {
    await mkdir(join(srv, 'state', 'some-container'), { recursive: true });
    const stateful = new Runsc({ root: join(srv, 'state'), network: 'none', platform: 'systrap' });
    const policy = await gate({ mounts: { readOnly: ['/'] } }, [], stateful);
    for (const [source, what] of [
      ['/run', 'a host system path'],
      [join(srv, 'state', 'some-container'), "the runtime's state root"],
      ['/proc/self', 'a host system path'],
    ] as const) {
      const [problem] = await problemsOf(policy.admit(mount(source)));
      expect(problem?.message).toContain(`(${what})`);
    }
  });

  it('is warned about at start when an allowed folder holds it', async () => {
    const warnings: string[] = [];
    await gate({ mounts: { readWrite: [srv], readOnly: [join(srv, 'data')] } }, warnings);
    expect(warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `^policy\\.mounts\\.readWrite allows ${srv}, which holds ${srv}/work \\(the worker's work dir.*\\): steps may mount ${srv} itself, and with it ${srv}/work; allow a folder beside it instead$`,
        ),
      ),
    ]);
    const none: string[] = [];
    await gate({ mounts: { readOnly: [join(srv, 'data')] } }, none);
    expect(none).toEqual([]);
  });
});

describe("the policy's pids values", () => {
  const ptrace = new Runsc({ root: '/run/trs-policy-protected-unit', network: 'none', platform: 'ptrace' });

  it('are checked against a ptrace worker’s floor (128) when the gate is made, naming the field', async () => {
    const problems = await problemsOf(gate({ limits: { default: { pids: 100 } } }, [], ptrace));
    expect(problems).toEqual([
      {
        field: 'policy.limits.default.pids',
        message: expect.stringMatching(
          /^must be at least 128 on runsc's ptrace platform \(100 given\).*raise it in the policy$/,
        ),
      },
    ]);
    const max = await problemsOf(
      gate({ limits: { default: { pids: 100 }, max: { pids: 120 } } }, [], ptrace),
    );
    expect(max.map((p) => p.field)).toEqual(['policy.limits.default.pids', 'policy.limits.max.pids']);
  });

  it('are fine at 100 on a systrap worker, and at 128 on ptrace', async () => {
    await expect(gate({ limits: { default: { pids: 100 } } })).resolves.toBeInstanceOf(PolicyGate);
    await expect(gate({ limits: { default: { pids: 128 } } }, [], ptrace)).resolves.toBeInstanceOf(
      PolicyGate,
    );
  });

  it('use the build’s default platform when none is given (Debian’s 2022 build: ptrace)', async () => {
    const debian = new Runsc({
      command: '/usr/bin/runsc',
      root: '/run/trs-policy-protected-unit',
      network: 'none',
    });
    const current = new Runsc({
      command: join(homedir(), '.cache/temporal-runsc/bin/runsc-release-20260905.0'),
      root: '/run/trs-policy-protected-unit',
      network: 'none',
    });
    const [problem] = await problemsOf(gate({ limits: { default: { pids: 100 } } }, [], debian));
    expect(problem?.field).toBe('policy.limits.default.pids');
    await expect(gate({ limits: { default: { pids: 100 } } }, [], current)).resolves.toBeInstanceOf(
      PolicyGate,
    );
  });
});
