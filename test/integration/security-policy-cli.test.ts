/** The worker CLI's policy flags: a bad value exits 2 naming the flag; `--allow-rootfs` reaches the policy. */
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/worker-cli.js';

/**
 * The worker's refusal on stderr, and its exit status if it exited. (A worker that got as far as
 * loading the SDK may stay up after refusing: it is ended here once it has answered.)
 */
async function refusalOf(args: string[]): Promise<{ stderr: string; exitCode?: number }> {
  const child = execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', ...args], {
    cwd: repoRoot,
    reject: false,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let exited: number | undefined;
  void child.then((result) => {
    exited = result.exitCode;
  });
  const deadline = Date.now() + 45_000;
  try {
    while (exited === undefined && !/temporal-runsc: |error: /.test(stderr) && Date.now() < deadline)
      await sleep(25);
    await sleep(200); // the rest of the same message
    return { stderr, ...(exited === undefined ? {} : { exitCode: exited }) };
  } finally {
    child.kill('SIGKILL');
    await child;
  }
}

describe('the worker CLI’s policy flags', () => {
  it('exit 2 on a bad --allow-network value, naming the flag and the modes', async () => {
    const { stderr, exitCode } = await refusalOf(['--allow-network', 'sandbox', '--allow-network', 'bridge']);
    expect(exitCode).toBe(2);
    expect(stderr).toContain("option '--allow-network <mode>' argument 'bridge' is invalid");
    expect(stderr).toContain('must be one of sandbox, host');
  });

  it('take --allow-rootfs into the policy (a relative path is refused there, naming the field)', async () => {
    const { stderr } = await refusalOf(['--allow-rootfs', 'relative/rootfs', '--address=127.0.0.1:1']);
    expect(stderr).toMatch(/policy\.rootfs\[0\]: must be an absolute path/);
    expect(stderr).not.toMatch(/unknown option/);
  });
});
