/** The sandbox policy and its admission of steps: the operator's rules, on real paths. */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunContainerInput } from '../../activities/types.js';
import { parseBundleSpec } from '../../src/bundle/create-bundle.js';
import { toOciConfig } from '../../src/bundle/oci.js';
import { PolicyGate as Gate, type PolicyGate } from '../../src/policy/admit.js';
import { parseCleanupRequest } from '../../src/policy/host-requests.js';
import { loadPolicy, parsePolicy } from '../../src/policy/load.js';
import type { SandboxPolicyInput } from '../../src/policy/schema.js';
import { Runsc } from '../../src/runtime/runsc.js';
import { ValidationError } from '../../src/validation.js';

let base: string;
let rootfs: string;
let workDir: string;
let data: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'trs-policy-'));
  rootfs = join(base, 'rootfs');
  workDir = join(base, 'work');
  data = join(base, 'data');
  for (const dir of [rootfs, workDir, data, join(data, 'in')]) await mkdir(dir, { recursive: true });
  // A link planted inside an allowed folder, pointing out of it.
  await symlink('/etc', join(data, 'escape'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const runtime = new Runsc({ root: '/run/trs-policy-unit', network: 'none' });

function gate(policy: SandboxPolicyInput = {}, runtimeClient = runtime): Promise<PolicyGate> {
  return Gate.create({ policy: parsePolicy(policy), runtime: runtimeClient, rootfs, workDir });
}

const step = (extra: Partial<RunContainerInput> = {}): RunContainerInput => ({
  step: 's',
  args: ['/bin/true'],
  ...extra,
});

async function refusal(promise: Promise<unknown>): Promise<{ field: string; message: string }[]> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return [...(error as ValidationError).problems];
}

describe('a worker with no policy', () => {
  it('runs a step on its own rootfs, mounting nothing, with limits, no network, as root', async () => {
    const admitted = await (await gate()).admit(step());
    expect(admitted.bundle).toMatchObject({
      rootfs,
      mounts: [],
      user: { uid: 0, gid: 0 },
      limits: { memoryBytes: 512 * 1024 * 1024, pids: 256, cpus: 1 },
      tmpfsBytes: 64 * 1024 * 1024,
    });
    expect(admitted).toMatchObject({ network: 'none', outBytes: 1024 * 1024, maskValues: [] });
    expect(admitted.runtime.options.network).toBe('none');
  });

  it('refuses any mount, naming the field and the rule', async () => {
    const problems = await refusal(
      (await gate()).admit(step({ mounts: [{ source: '/', destination: '/host', readOnly: false }] })),
    );
    expect(problems).toEqual([
      {
        field: 'mounts[0].source',
        message:
          '/ is not under an allowed read-write path (policy.mounts.readWrite: none); ask the operator to allow it',
      },
    ]);
  });

  it('refuses another rootfs, and network sandbox or host', async () => {
    const problems = await refusal((await gate()).admit(step({ rootfs: '/', network: 'sandbox' })));
    expect(problems.map((p) => p.field)).toEqual(['rootfs', 'network']);
    expect(problems[0]?.message).toMatch(/^\/ is not an allowed root filesystem \(policy.rootfs: none/);
    expect(problems[1]?.message).toMatch(/sandbox is not allowed on this worker \(policy.network: none\)/);
  });

  it('refuses limits above the maximums and a user outside the range', async () => {
    const problems = await refusal(
      (await gate()).admit(
        step({
          limits: { memoryBytes: 64 * 1024 ** 3 },
          tmpfsBytes: 8 * 1024 ** 3,
          user: { uid: 70000, gid: 0 },
        }),
      ),
    );
    expect(problems.map((p) => p.field)).toEqual(['user.uid', 'limits.memoryBytes', 'tmpfsBytes']);
  });

  it('refuses an activity timeout above the maximum run time', async () => {
    const problems = await refusal(
      (await gate({ limits: { max: { timeout: '1m' } } })).admit(step(), { startToCloseTimeoutMs: 120_000 }),
    );
    expect(problems).toEqual([
      { field: 'timeout', message: expect.stringMatching(/policy.limits.max.timeout: 60000 ms/) },
    ]);
  });
});

describe('mount rules', () => {
  it('allows a read-only mount under an allowed path, by its real path', async () => {
    const admitted = await (await gate({ mounts: { readOnly: [data] } })).admit(
      step({ mounts: [{ source: `${data}/in`, destination: '/in' }] }),
    );
    expect(admitted.bundle.mounts).toEqual([
      { source: join(data, 'in'), destination: '/in', readOnly: true },
    ]);
  });

  it('refuses a read-write mount of a read-only path', async () => {
    const problems = await refusal(
      (await gate({ mounts: { readOnly: [data] } })).admit(
        step({ mounts: [{ source: data, destination: '/d', readOnly: false }] }),
      ),
    );
    expect(problems[0]?.message).toMatch(
      /is not under an allowed read-write path \(policy.mounts.readWrite: none\)/,
    );
  });

  it('resolves links first: a link under an allowed path that points outside is refused', async () => {
    const problems = await refusal(
      (await gate({ mounts: { readOnly: [data] } })).admit(
        step({ mounts: [{ source: join(data, 'escape'), destination: '/etc2' }] }),
      ),
    );
    expect(problems).toEqual([
      {
        field: 'mounts[0].source',
        message: `${join(data, 'escape')} (really /etc) is not under an allowed read-only path (policy.mounts.readOnly: ${data}); ask the operator to allow it`,
      },
    ]);
  });

  it('keeps the work dir, the state root and /run out unless named exactly', async () => {
    const wide = await gate({ mounts: { readOnly: ['/'] } });
    const problems = await refusal(
      wide.admit(
        step({
          mounts: [
            { source: '/', destination: '/a' },
            { source: workDir, destination: '/b' },
            { source: base, destination: '/c' },
            { source: '/proc', destination: '/d' },
          ],
        }),
      ),
    );
    expect(problems.map((p) => p.field)).toEqual([
      'mounts[1].source',
      'mounts[2].source',
      'mounts[3].source',
    ]);
    expect(problems[1]?.message).toMatch(
      /holds .*work \(the worker.s work dir, .*\), which a step may mount only when the operator names that exact source path in policy.mounts.readOnly/,
    );
    const exact = await gate({ mounts: { readOnly: [workDir] } });
    expect(
      (await exact.admit(step({ mounts: [{ source: workDir, destination: '/w' }] }))).bundle.mounts,
    ).toHaveLength(1);
  });

  it('refuses destinations that are the sandbox’s own', async () => {
    const problems = await refusal(
      (await gate({ mounts: { readOnly: [data] } })).admit(
        step({
          mounts: [
            { source: data, destination: '/out' },
            { source: data, destination: '/proc/x' },
          ],
        }),
      ),
    );
    expect(problems.map((p) => p.field)).toEqual(['mounts[0].destination', 'mounts[1].destination']);
  });
});

describe('network, rootfs and runtimes', () => {
  it('runs an allowed network mode with its own runsc client', async () => {
    const admitted = await (await gate({ network: ['none', 'sandbox'] })).admit(step({ network: 'sandbox' }));
    expect(admitted.network).toBe('sandbox');
    expect(admitted.runtime.options).toMatchObject({ network: 'sandbox', root: '/run/trs-policy-unit' });
  });

  it('allows a rootfs the operator names', async () => {
    const admitted = await (await gate({ rootfs: [data] })).admit(step({ rootfs: data }));
    expect(admitted.bundle.rootfs).toBe(data);
  });

  it('refuses runc and crun unless the operator opts in, and hardens their bundles when allowed', async () => {
    await expect(gate({}, new Runsc({ command: 'runc' }))).rejects.toThrow(
      /policy.allowWeakRuntime: runc runs steps on the host's kernel/,
    );
    const admitted = await (await gate({ allowWeakRuntime: true }, new Runsc({ command: 'crun' }))).admit(
      step(),
    );
    expect(admitted.bundle.hostKernel).toEqual({});
    const config = toOciConfig(parseBundleSpec({ ...admitted.bundle, args: ['/bin/true'] }));
    expect(config.linux.seccomp?.syscalls[0]?.names).toContain('keyctl');
    expect(config.linux.maskedPaths).toContain('/proc/sched_debug');
  });
});

describe('bind options', () => {
  it('binds with nosuid and nodev', () => {
    const config = toOciConfig(
      parseBundleSpec({
        rootfs: '/r',
        args: ['/bin/true'],
        mounts: [{ source: '/srv', destination: '/srv' }],
      }),
    );
    expect(config.mounts.at(-1)?.options).toEqual(['rbind', 'nosuid', 'nodev', 'ro']);
  });
});

describe('the policy file and flags', () => {
  it('merges flags into the file, and names a bad field', async () => {
    const file = join(base, 'policy.yaml');
    await writeFile(file, 'mounts:\n  readOnly: [/srv]\nnetwork: [none]\n');
    const policy = await loadPolicy(file, { allowMountReadOnly: ['/data'], allowNetwork: ['sandbox'] });
    expect(policy.mounts.readOnly).toEqual(['/srv', '/data']);
    expect(policy.network).toEqual(['none', 'sandbox']);
    await writeFile(file, 'limits:\n  default: { pids: 32 }\n');
    await expect(loadPolicy(file)).rejects.toThrow(/policy.limits.default.pids: must be at least 64/);
    await writeFile(file, 'mounts: { readonly: [/srv] }\n');
    await expect(loadPolicy(file)).rejects.toThrow(/policy.mounts: unknown key "readonly"/);
  });
});

describe('a parsed policy', () => {
  it('parses to itself (the worker and its activities both check it)', () => {
    const once = parsePolicy({ limits: { max: { timeout: '2h' } }, network: ['none', 'host'] });
    expect(parsePolicy(once)).toEqual(once);
  });
});

describe('cleanupHost requests from a workflow', () => {
  it('take the pace only: wipe, root and prefix are refused', () => {
    expect(parseCleanupRequest({ wipe: false, graceMs: 500 })).toEqual({ wipe: false, graceMs: 500 });
    expect(() => parseCleanupRequest({ wipe: true })).toThrow(/wipe: is the operator’s/);
    expect(() => parseCleanupRequest({ prefix: '' })).toThrow(/unknown key "prefix"/);
    expect(() => parseCleanupRequest({ cgroupRoot: '/sys/fs/cgroup' })).toThrow(/unknown key "cgroupRoot"/);
  });
});
