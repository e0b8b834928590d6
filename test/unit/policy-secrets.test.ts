/** The worker's secret store: only safe files in a closed folder, and no value in any error. */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyGate } from '../../src/policy/admit.js';
import { parsePolicy } from '../../src/policy/load.js';
import { Runsc } from '../../src/runtime/runsc.js';
import { maskRunResult, maskSecrets } from '../../src/secrets/mask.js';
import { SecretStore } from '../../src/secrets/store.js';
import { ValidationError } from '../../src/validation.js';

let base: string;
let store: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'trs-secrets-'));
  store = join(base, 'store');
  await mkdir(store, { mode: 0o700 });
  await chmod(store, 0o700);
  await writeFile(join(store, 'TOKEN'), 'tok-VALUE-1\n', { mode: 0o600 });
  await writeFile(join(store, 'OTHER'), 'other-VALUE-2', { mode: 0o600 });
  await writeFile(join(store, 'HUGE'), Buffer.alloc(70 * 1024, 'x'), { mode: 0o600 });
  await writeFile(join(store, 'READABLE'), 'readable-VALUE-3', { mode: 0o644 });
  await chmod(join(store, 'READABLE'), 0o644);
  await writeFile(join(base, 'outside'), 'OUTSIDE-VALUE');
  await symlink(join(base, 'outside'), join(store, 'LINKED'));
  execFileSync('mkfifo', [join(store, 'FIFO')]);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function gate(allow: string[] | 'all' = 'all', runtime = new Runsc({ root: '/run/trs-secrets-unit' })) {
  return PolicyGate.create({
    policy: parsePolicy({ secrets: { dir: store, allow } }),
    runtime,
    rootfs: base,
    workDir: join(base, 'work'),
  });
}

describe('secrets', () => {
  it('resolve into the environment by name or by mapping, and come back as values to mask', async () => {
    const admitted = await (await gate()).admit({
      step: 's',
      args: ['/bin/true'],
      env: { A: 'b' },
      secrets: { API: 'TOKEN' },
    });
    expect(admitted.bundle.env).toEqual({ A: 'b', API: 'tok-VALUE-1' });
    expect(admitted.maskValues).toEqual(['tok-VALUE-1']);
    const listed = await (await gate()).admit({ step: 's', args: ['/bin/true'], secrets: ['OTHER'] });
    expect(listed.bundle.env).toEqual({ OTHER: 'other-VALUE-2' });
  });

  it('refuse a link, a FIFO (without blocking), a huge file, a missing one and one not allowed: naming the secret, never a value', async () => {
    const error = await (await gate(['TOKEN', 'LINKED', 'FIFO', 'HUGE', 'MISSING']))
      .admit({ step: 's', args: ['/bin/true'], secrets: ['LINKED', 'FIFO', 'HUGE', 'MISSING', 'OTHER'] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const problems = (error as ValidationError).problems;
    expect(problems.map((p) => p.field)).toEqual([
      'secrets.LINKED',
      'secrets.FIFO',
      'secrets.HUGE',
      'secrets.MISSING',
      'secrets.OTHER',
    ]);
    expect(problems[3]?.message).toMatch(/secret MISSING is not in the worker's store/);
    expect(problems[4]?.message).toMatch(/not allowed on this worker \(policy.secrets.allow\)/);
    expect(JSON.stringify(problems)).not.toMatch(/VALUE|xxxx/);
  });

  it('refuse a store others may read, or a link as the store', async () => {
    const open = join(base, 'open');
    await mkdir(open);
    await chmod(open, 0o755);
    await expect(new SecretStore(open).checkDir()).rejects.toThrow(
      /has mode 755: others may read or add secrets; chmod 700 it/,
    );
    await symlink(store, join(base, 'link-store'));
    await expect(new SecretStore(join(base, 'link-store')).checkDir()).rejects.toThrow(
      /is not a folder \(links are refused\)/,
    );
    await expect(
      PolicyGate.create({
        policy: parsePolicy({ secrets: { dir: open, allow: 'all' } }),
        runtime: new Runsc(),
        rootfs: base,
        workDir: base,
      }),
    ).rejects.toThrow(/chmod 700/);
  });

  it('refuse a store open to its group, and a secret file group or others may read', async () => {
    const groupReadable = join(base, 'group-readable');
    await mkdir(groupReadable);
    await chmod(groupReadable, 0o750);
    await expect(new SecretStore(groupReadable).checkDir()).rejects.toThrow(
      /has mode 750: others may read or add secrets; chmod 700 it/,
    );
    const refused = await (await gate())
      .admit({ step: 's', args: ['/bin/true'], secrets: ['READABLE'] })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).message).toMatch(
      /secrets.READABLE: secret READABLE has mode 644: group or others may read or change it; chmod 600 it/,
    );
    expect((refused as ValidationError).message).not.toContain('readable-VALUE-3');
  });

  it('refuse a step naming secrets when the runtime writes a debug log (runsc logs the spec, env included)', async () => {
    const debugging = await gate(
      'all',
      new Runsc({ root: '/run/trs-secrets-unit', debugLog: join(base, 'debug/') }),
    );
    await expect(debugging.admit({ step: 's', args: ['/bin/true'], secrets: ['TOKEN'] })).rejects.toThrow(
      /secrets: the worker's runtime debug log would record them/,
    );
    // A step without secrets still runs there.
    await expect(debugging.admit({ step: 's', args: ['/bin/true'] })).resolves.toBeDefined();
  });

  it('a step without a store configured gets a clear refusal', async () => {
    const plain = await PolicyGate.create({
      policy: parsePolicy({}),
      runtime: new Runsc(),
      rootfs: base,
      workDir: base,
    });
    await expect(plain.admit({ step: 's', args: ['/bin/true'], secrets: ['TOKEN'] })).rejects.toThrow(
      /secrets.TOKEN: this worker has no secret store/,
    );
  });
});

describe('masking', () => {
  it('replaces every occurrence in tails, and withholds a result quoting a value', () => {
    expect(maskSecrets('a sekret b sekret', ['sekret'])).toBe('a *** b ***');
    const result = maskRunResult(
      {
        stdoutTail: 'x sekret',
        stderrTail: '',
        result: { token: 'sekret' } as unknown,
        resultError: undefined as string | undefined,
      },
      ['sekret'],
    );
    expect(result.stdoutTail).toBe('x ***');
    expect(result.result).toBeUndefined();
    expect(result.resultError).toMatch(/holds a secret value/);
  });

  const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
  const serviceAccount = '{"type":"service_account","private_key":"k\\ey"}';

  it.each([
    ['a multi-line value (a PEM key), as it is', { key: pem }],
    [
      'a value with quotes and a backslash (service-account JSON), as it is',
      { nested: [{ sa: serviceAccount }] },
    ],
    ['a value inside a longer string', { note: `key: ${pem} (end)` }],
    ['a value as a key', { [serviceAccount]: true }],
  ])('withholds a result holding %s', (_, value) => {
    const result = maskRunResult(
      {
        stdoutTail: '',
        stderrTail: '',
        result: value as unknown,
        resultError: undefined as string | undefined,
      },
      [pem, serviceAccount],
    );
    expect(result.result).toBeUndefined();
    expect(result.resultError).toMatch(/holds a secret value/);
  });

  it('keeps a result holding no value, and masks the log error', () => {
    const result = maskRunResult(
      {
        stdoutTail: '',
        stderrTail: '',
        result: { ok: 'BEGIN PRIVATE', n: 1, list: [null, true] } as unknown,
        logError: `/logs/x.log: ${pem}`,
      },
      [pem],
    );
    expect(result.result).toEqual({ ok: 'BEGIN PRIVATE', n: 1, list: [null, true] });
    expect(result.logError).toBe('/logs/x.log: ***');
  });
});
