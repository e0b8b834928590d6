/** The worker CLI's policy flags: a bad value exits 2 naming the flag; `--allow-rootfs` reaches the policy. */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/worker-cli.js';

/** The worker's refusal: its stderr and exit status (it exits at once, touching nothing). */
async function refusalOf(args: string[]): Promise<{ stderr: string; exitCode?: number }> {
  const child = execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', ...args], {
    cwd: repoRoot,
    reject: false,
    timeout: 45_000,
  });
  const result = await child;
  return { stderr: String(result.stderr), exitCode: result.exitCode };
}

describe('the worker CLI’s policy flags', () => {
  it('exit 2 on a bad --allow-network value, naming the flag and the modes', async () => {
    const { stderr, exitCode } = await refusalOf(['--allow-network', 'sandbox', '--allow-network', 'bridge']);
    expect(exitCode).toBe(2);
    expect(stderr).toContain("option '--allow-network <mode>' argument 'bridge' is invalid");
    expect(stderr).toContain('must be one of sandbox, host');
  });

  it('take --allow-rootfs into the policy (a relative path is refused there, naming the field)', async () => {
    const { stderr, exitCode } = await refusalOf([
      '--allow-rootfs',
      'relative/rootfs',
      '--address=127.0.0.1:1',
    ]);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/policy\.rootfs\[0\]: must be an absolute path/);
    expect(stderr).not.toMatch(/unknown option/);
  });
});
