/** Runsc against the real runsc binary, as root. Each test names what a user relies on. */
import { mkdir, readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  ContainerExists,
  ContainerNotFound,
  Runsc,
  RuntimeNotFound,
  RuntimeTimeout,
} from '../../src/runtime/index.js';
import { leaveStopped, testBundle, testRuntime, uniqueId } from '../support/runtime.js';
import { untilExecd } from '../support/stuck-runtime.js';

const runtime = testRuntime();
const created: string[] = [];

function newId(name: string): string {
  const id = uniqueId(name);
  created.push(id);
  return id;
}

async function run(args: string[], spec = {}, options = {}) {
  const id = newId('run');
  const bundle = await testBundle(id, args, spec);
  return { id, result: await runtime.run(id, bundle, options) };
}

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

afterEach(async () => {
  // Whatever a test did, its containers must already be gone: `run` promises no leftovers.
  for (const id of created.splice(0)) {
    expect(await runtime.exists(id), `container ${id} was left behind`).toBe(false);
  }
});

describe('exit status', () => {
  it('reports 0 for a step that succeeds', async () => {
    const { result } = await run(['/bin/true']);
    expect(result).toMatchObject({ exitCode: 0 });
    expect(result.runtimeError).toBeUndefined();
  });

  it('reports the step’s own exit code', async () => {
    const { result } = await run(['/bin/sh', '-c', 'exit 7']);
    expect(result).toMatchObject({ exitCode: 7 });
    expect(result.signal).toBeUndefined();
  });

  it('reports 137 and SIGKILL for a step killed by SIGKILL', async () => {
    const { result } = await run(['/bin/sh', '-c', 'kill -KILL $$']);
    expect(result).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
  });

  it('reports 143 and SIGTERM for a step stopped with TERM through the runtime', async () => {
    const id = newId('term');
    const bundle = await testBundle(id, ['/bin/sleep', '30']);
    const running = runtime.run(id, bundle, {});
    await waitForStatus(id, 'running');
    await runtime.kill(id, 'TERM');
    expect(await running).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
  });

  it('tells a missing program (runtime failure) apart from a step that exits 128', async () => {
    const missing = await run(['/bin/no-such-program']);
    expect(missing.result.exitCode).toBe(128);
    expect(missing.result.runtimeError).toMatch(/no-such-program/);

    const exits128 = await run(['/bin/sh', '-c', 'exit 128']);
    expect(exits128.result.exitCode).toBe(128);
    expect(exits128.result.runtimeError).toBeUndefined();
  });
});

describe('output', () => {
  it('captures both streams whole and in order, and counts their bytes', async () => {
    const stdout = new Collect();
    const stderr = new Collect();
    const { result } = await run(['/bin/sh', '-c', 'seq 1 20000; seq 1 3000 >&2'], {}, { stdout, stderr });
    const expectedOut = `${Array.from({ length: 20000 }, (_, i) => i + 1).join('\n')}\n`;
    const expectedErr = `${Array.from({ length: 3000 }, (_, i) => i + 1).join('\n')}\n`;
    expect(result.exitCode).toBe(0);
    expect(stdout.text).toBe(expectedOut);
    expect(stderr.text).toBe(expectedErr);
    expect(result.stdoutBytes).toBe(expectedOut.length);
    expect(result.stderrBytes).toBe(expectedErr.length);
  });
});

describe('isolation and limits', () => {
  it('refuses writes to the read-only root filesystem', async () => {
    const stderr = new Collect();
    const { result } = await run(['/bin/sh', '-c', 'echo x > /bin/written'], {}, { stderr });
    expect(result.exitCode).not.toBe(0);
    expect(stderr.text).toMatch(/read-only file system/i);
  });

  it('lets the step write to its /tmp and to a read-write mount', async () => {
    const outDir = `${inject('workDir')}/out-${Date.now()}`;
    await mkdir(outDir, { recursive: true });
    const { result } = await run(['/bin/sh', '-c', 'echo hi > /tmp/x && cat /tmp/x > /out/result'], {
      mounts: [{ source: outDir, destination: '/out', readOnly: false }],
    });
    expect(result.exitCode).toBe(0);
    expect(await readFile(`${outDir}/result`, 'utf8')).toBe('hi\n');
  });

  it('kills a step that exceeds its memory limit (137)', async () => {
    const { result } = await run(['/bin/sh', '-c', 'head -c 400000000 /dev/zero > /tmp/big; echo survived'], {
      limits: { memoryBytes: 64 * 1024 * 1024 },
      tmpfsBytes: 1024 * 1024 * 1024,
    });
    expect(result).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
  });
});

describe('abort and leftovers', () => {
  it('aborts a running step, leaves nothing listed, and the id can be used again', async () => {
    const id = newId('abort');
    const bundle = await testBundle(id, ['/bin/sleep', '30']);
    const controller = new AbortController();
    let pid = 0;
    const running = runtime.run(id, bundle, { signal: controller.signal, onStart: (p) => (pid = p) });
    await waitForStatus(id, 'running');
    expect(pid).toBeGreaterThan(0);
    controller.abort();
    const result = await running;
    expect(result.abort?.gone).toBe(true);
    expect(result.exitCode).toBe(143);
    expect(await runtime.list()).not.toContainEqual(expect.objectContaining({ id }));

    const again = await runtime.run(id, await testBundle(id, ['/bin/true']));
    expect(again.exitCode).toBe(0);
  });

  it('aborts a step that ignores TERM by escalating to KILL', async () => {
    const id = newId('ignore-term');
    const bundle = await testBundle(id, ['/bin/sh', '-c', "trap '' TERM; while true; do sleep 1; done"]);
    const controller = new AbortController();
    const running = runtime.run(id, bundle, { signal: controller.signal, graceMs: 500 });
    await waitForStatus(id, 'running');
    controller.abort();
    const result = await running;
    expect(result.abort?.steps).toContain('kill KILL');
    expect(result.abort?.gone).toBe(true);
    expect(result.exitCode).toBe(137);
  });

  it('removes the state of a run whose runsc process was SIGKILLed', async () => {
    const id = newId('sigkill');
    const bundle = await testBundle(id, ['/bin/sleep', '30']);
    let pid = 0;
    const running = runtime.run(id, bundle, { onStart: (p) => (pid = p) });
    await waitForStatus(id, 'running');
    process.kill(pid, 'SIGKILL');
    expect(await running).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
    expect(await runtime.exists(id)).toBe(false);
  });

  it('refuses an id that a stopped container still holds, and leaves that container alone', async () => {
    const id = newId('exists');
    const bundle = await testBundle(id, ['/bin/sleep', '30']);
    await leaveStopped(runtime, id);

    await expect(runtime.run(id, bundle)).rejects.toBeInstanceOf(ContainerExists);
    expect((await runtime.state(id)).status).toBe('stopped');
    const report = await runtime.abort(id);
    expect(report.gone).toBe(true);
  });
});

describe('management calls', () => {
  it('state of an unknown id is ContainerNotFound', async () => {
    await expect(runtime.state('trs-test-never-created')).rejects.toBeInstanceOf(ContainerNotFound);
  });

  it('a list blocked by a held lock times out with RuntimeTimeout instead of hanging', async () => {
    const id = newId('locked');
    await leaveStopped(runtime, id);
    // Test-only fault: another process holds the container's lock, as a stuck runsc would.
    const lockHolder = execa(
      'flock',
      ['--no-fork', `${inject('runscRoot')}/${id}_sandbox:${id}.lock`, 'sleep', '60'],
      {
        reject: false,
      },
    );
    try {
      // With --no-fork, flock runs sleep in its own process once it holds the lock.
      await untilExecd(lockHolder.pid as number, 'sleep');
      const impatient = new Runsc({ ...runtime.options, timeoutMs: 1000 });
      const error = await impatient.list().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RuntimeTimeout);
      expect((error as RuntimeTimeout).command).toContain('list');
    } finally {
      lockHolder.kill('SIGKILL');
      await lockHolder;
      await runtime.abort(id);
    }
  });

  it('a missing runtime binary is RuntimeNotFound', async () => {
    const missing = new Runsc({ command: '/nonexistent/runsc', root: inject('runscRoot') });
    await expect(missing.list()).rejects.toBeInstanceOf(RuntimeNotFound);
  });

  it('version names runsc', async () => {
    expect((await runtime.version()).version).toMatch(/runsc version/);
  });
});

async function waitForStatus(id: string, status: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await runtime.state(id).catch(() => undefined);
    if (state?.status === status) return;
    if (Date.now() > deadline) throw new Error(`${id} never became ${status}`);
    await sleep(50);
  }
}
