import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { resolveConnection } from '../../src/cli/connection.js';

describe('connection settings from the Temporal config file', () => {
  let dir: string;
  const saved = process.env.TEMPORAL_CONFIG_FILE;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trs-connection-'));
  });
  afterEach(async () => {
    if (saved === undefined) delete process.env.TEMPORAL_CONFIG_FILE;
    else process.env.TEMPORAL_CONFIG_FILE = saved;
    await rm(dir, { recursive: true, force: true });
  });

  test('a named profile is read from the file, and --address wins over it', async () => {
    process.env.TEMPORAL_CONFIG_FILE = join(dir, 'temporal.toml');
    await writeFile(
      process.env.TEMPORAL_CONFIG_FILE,
      '[profile.ci]\naddress = "10.0.0.1:7233"\nnamespace = "jobs"\n',
    );
    expect(resolveConnection({ profile: 'ci' })).toMatchObject({
      connectionOptions: { address: '10.0.0.1:7233' },
      namespace: 'jobs',
    });
    expect(resolveConnection({ profile: 'ci', address: '127.0.0.1:7233' }).connectionOptions.address).toBe(
      '127.0.0.1:7233',
    );
  });

  test.each([
    ['a file with no profiles at all', '', /it has no \[profile\.\*\] tables/],
    ['a file without that profile', '[profile.other]\naddress = "x:1"\n', /not found/],
  ])('%s: the error names the profile, the file and the fix', async (_, text, reason) => {
    process.env.TEMPORAL_CONFIG_FILE = join(dir, 'temporal.toml');
    await writeFile(process.env.TEMPORAL_CONFIG_FILE, text);
    const error = (() => {
      try {
        resolveConnection({ profile: 'staging' });
      } catch (thrown) {
        return thrown as Error;
      }
      throw new Error('resolveConnection accepted a missing profile');
    })();
    expect(error).not.toBeInstanceOf(TypeError);
    expect(error.message).toContain('profile "staging" (--profile or TEMPORAL_PROFILE)');
    expect(error.message).toContain(process.env.TEMPORAL_CONFIG_FILE);
    expect(error.message).toMatch(reason);
    expect(error.message).toContain('give --address and --namespace instead');
  });
});
