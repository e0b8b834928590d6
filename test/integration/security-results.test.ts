/**
 * A hostile step's /out/result.json, through a real worker and dev server: whatever the step
 * leaves there (a link to a host file, a device, a FIFO, a sparse giant, a hard link), no host
 * content reaches the result or the workflow history, the step settles, and the worker goes on
 * to the next step.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pipelineResult, startPipeline } from '../../src/client/index.js';
import type { PipelineInput, PipelineResult, StepReport } from '../../workflows/types.js';
import { startTestCluster, type TestCluster } from '../support/worker.js';

let cluster: TestCluster;
let hostDir: string;

beforeAll(async () => {
  hostDir = join(inject('workDir'), `host-files-${randomBytes(4).toString('hex')}`);
  await mkdir(hostDir, { recursive: true });
  // One container at a time: a step that kept its slot would stall the next one. The host
  // folder may be mounted read-only, for the hard-link attempt.
  cluster = await startTestCluster({
    maxConcurrentContainers: 1,
    policy: { mounts: { readOnly: [hostDir] } },
  });
});

afterAll(async () => {
  await cluster?.stop();
  await rm(hostDir, { recursive: true, force: true });
});

/** Runs the hostile step, then a plain one; returns both and the whole history as text. */
async function hostileThenNext(script: string, extra: Partial<PipelineInput['steps'][number]> = {}) {
  const handle = await startPipeline(
    cluster.client,
    {
      name: 'hostile',
      // A step that hung the worker would end only by this, and fail.
      defaults: { heartbeatTimeout: '10s', timeout: '30s', retry: { maximumAttempts: 1 } },
      steps: [
        { name: 'attack', args: ['/bin/sh', '-c', script], ...extra },
        { name: 'next', args: ['/bin/sh', '-c', 'echo next ran'] },
      ],
    },
    { taskQueue: cluster.taskQueue },
  );
  const result: PipelineResult = await pipelineResult(handle);
  // Payloads as text: fetchHistory gives each payload's data in base64.
  const history = JSON.stringify(await handle.fetchHistory(), (key, value) =>
    key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value,
  );
  const step = (name: string) => result.steps.find((s) => s.name === name) as StepReport;
  return {
    result,
    attack: step('attack'),
    next: step('next'),
    history,
    all: JSON.stringify(result) + history,
  };
}

/** A root-only JSON file on the host with a unique marker in it. */
async function hostSecret(): Promise<{ path: string; name: string; marker: string }> {
  const marker = `HOST-MARKER-${randomBytes(6).toString('hex')}`;
  const name = `secret-${randomBytes(4).toString('hex')}.json`;
  const path = join(hostDir, name);
  await writeFile(path, JSON.stringify({ marker }));
  await chmod(path, 0o600);
  return { path, name, marker };
}

describe('a hostile result file', () => {
  it('a symlink to a host JSON file: no byte of it in the result or the history', async () => {
    const secret = await hostSecret();
    const run = await hostileThenNext(`ln -s ${secret.path} /out/result.json`);
    expect(run.attack.status).toBe('succeeded');
    expect(run.attack.result).toBeUndefined();
    expect(run.history).toContain('/out/result.json is a symbolic link: write the result itself there');
    expect(run.all).not.toContain(secret.marker);
    expect(run.next.stdoutTail).toBe('next ran\n');
  });

  it('a symlink to /etc/shadow: nothing of the file is quoted', async () => {
    const shadow = await readFile('/etc/shadow', 'utf8');
    const firstLine = shadow.split('\n')[0] ?? '';
    const run = await hostileThenNext('ln -s /etc/shadow /out/result.json');
    expect(run.history).toContain('/out/result.json is a symbolic link: write the result itself there');
    expect(firstLine.length).toBeGreaterThan(5);
    expect(run.all).not.toContain(firstLine.slice(0, 12));
    expect(run.next.status).toBe('succeeded');
  });

  it('a symlink to /dev/kmsg: the step settles with a resultError and the next step runs', async () => {
    const run = await hostileThenNext('ln -s /dev/kmsg /out/result.json');
    expect(run.attack).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(run.history).toContain('/out/result.json is a symbolic link');
    expect(run.next.stdoutTail).toBe('next ran\n');
  });

  it('a FIFO with no writer: refused without waiting on it, and the next step runs', async () => {
    // gVisor may keep the FIFO inside the sandbox (then no file reaches the host at all); one
    // that reaches the host is refused by its type (test/unit/result-file.test.ts).
    const run = await hostileThenNext('mkfifo /out/result.json; ls -l /out/result.json');
    expect(run.attack.status).toBe('succeeded');
    expect(run.attack.result).toBeUndefined();
    expect(run.next.stdoutTail).toBe('next ran\n');
  });

  it('a sparse 10 GiB file: refused by its size', async () => {
    const run = await hostileThenNext(
      'truncate -s 10G /out/result.json || dd if=/dev/zero of=/out/result.json bs=1 count=1 seek=10G',
    );
    expect(run.attack.result).toBeUndefined();
    expect(run.history).toContain('/out/result.json is larger than the limit of 65536 bytes');
    expect(run.next.status).toBe('succeeded');
  });

  it('a hard link to a host file: cannot be made into /out, and no host content comes back', async () => {
    const secret = await hostSecret();
    const run = await hostileThenNext(`ln /data/${secret.name} /out/result.json; echo "ln exited $?" >&2`, {
      mounts: [{ source: hostDir, destination: '/data' }],
    });
    expect(run.attack.stderrTail).toMatch(/ln exited [1-9]/);
    expect(run.attack.result).toBeUndefined();
    expect(run.all).not.toContain(secret.marker);
    expect(run.next.status).toBe('succeeded');
  });

  it('invalid JSON: the error gives a position, never the text', async () => {
    // The file's text is made in the sandbox (reversed), so the step's own args do not hold it;
    // V8's own message would quote its first ten characters.
    const run = await hostileThenNext(
      `printf 'TOKEN=%s' $(echo detouq-reven-321cba | rev) > /out/result.json`,
    );
    expect(run.history).toContain('/out/result.json is not valid JSON');
    expect(run.all).not.toContain('abc12');
  });
});
