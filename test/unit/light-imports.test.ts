/**
 * The client and the CLI's client commands load no worker code: not the worker SDK, not its
 * native bridge, not the runtime client or the activities. Each case runs a real node process
 * with a recorder preloaded (test/support/record-modules.mjs: every ESM resolve and the CommonJS
 * require cache, native addons included) and reads what it loaded. Sources run through tsx, as
 * `npm run cli` does; the built CLI has the same import graph (tsc only strips types).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const recorder = join(repo, 'test/support/record-modules.mjs');
const cli = join(repo, 'src/cli/main.ts');

/** Modules that are the worker's, never a client's. */
const workerCode: { name: string; pattern: RegExp }[] = [
  { name: '@temporalio/worker', pattern: /\/node_modules\/@temporalio\/worker\// },
  { name: 'the native bridge', pattern: /\/node_modules\/@temporalio\/core-bridge\/|\.node$/ },
  { name: 'the workflow bundler', pattern: /\/node_modules\/(webpack|@swc)\// },
  { name: 'the runtime client (runsc)', pattern: /\/src\/runtime\// },
  { name: 'the worker', pattern: /\/src\/worker\// },
  { name: 'the activities', pattern: /\/activities\// },
];

let dir: string;
let configFile: string;
let badPipeline: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trs-light-'));
  // A config file without the profile the commands name: they fail before any connection, but
  // only once their action has loaded its modules.
  configFile = join(dir, 'temporal.toml');
  await writeFile(configFile, '[profile.default]\naddress = "127.0.0.1:1"\n');
  badPipeline = join(dir, 'bad.yaml');
  await writeFile(badPipeline, 'name: bad\nsteps: [\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs node with the recorder and returns the loaded modules' paths and the exit code. */
async function loadedBy(nodeArgs: string[], name: string): Promise<{ modules: string[]; exitCode: number }> {
  const file = join(dir, `${name}.modules`);
  const result = await execa('node', ['--import', 'tsx', '--import', recorder, ...nodeArgs], {
    cwd: repo,
    reject: false,
    timeout: 30_000,
    env: { TRS_RECORD_MODULES_FILE: file, TEMPORAL_CONFIG_FILE: configFile },
    extendEnv: true,
  });
  const text = await readFile(file, 'utf8').catch(() => '');
  const modules = [...new Set(text.split('\n').filter(Boolean))].map((entry) =>
    entry.startsWith('file:') ? fileURLToPath(entry) : entry,
  );
  if (modules.length === 0) throw new Error(`nothing recorded for ${name}: ${result.stderr}`);
  return { modules, exitCode: result.exitCode ?? -1 };
}

function workerCodeIn(modules: string[]): string[] {
  return workerCode.flatMap(({ name, pattern }) => {
    const hit = modules.find((path) => pattern.test(path));
    return hit ? [`${name}: ${hit}`] : [];
  });
}

const loadsClient = (modules: string[]) =>
  modules.some((p) => p.includes('/node_modules/@temporalio/client/'));

describe('what a client loads', () => {
  it('the recorder sees the worker SDK and its native bridge when the worker is imported', async () => {
    const { modules } = await loadedBy(
      ['--input-type=module', '-e', "await import('./src/worker/index.ts')"],
      'worker',
    );
    const found = workerCodeIn(modules).map((hit) => hit.split(':')[0]);
    expect(found).toEqual(expect.arrayContaining(['@temporalio/worker', 'the native bridge', 'the worker']));
  }, 60_000);

  it('temporal-runsc/client loads @temporalio/client and no worker code', async () => {
    const { modules, exitCode } = await loadedBy(
      [
        '--input-type=module',
        '-e',
        "const c = await import('./src/client/index.ts'); if (typeof c.startPipeline !== 'function') process.exit(3);",
      ],
      'client',
    );
    expect(exitCode).toBe(0);
    expect(loadsClient(modules)).toBe(true);
    expect(workerCodeIn(modules)).toEqual([]);
  }, 60_000);

  it('the package exports the client entry point from its build', async () => {
    const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8'));
    expect(pkg.exports['./client']).toEqual({
      types: './dist/src/client/index.d.ts',
      default: './dist/src/client/index.js',
    });
  });

  it('temporal-runsc --help loads neither the client nor worker code', async () => {
    const { modules, exitCode } = await loadedBy([cli, '--help'], 'help');
    expect(exitCode).toBe(0);
    expect(loadsClient(modules)).toBe(false);
    expect(workerCodeIn(modules)).toEqual([]);
  }, 60_000);

  it('worker --help loads no worker code either: commands load theirs when they run', async () => {
    const { modules, exitCode } = await loadedBy([cli, 'worker', '--help'], 'worker-help');
    expect(exitCode).toBe(0);
    expect(workerCodeIn(modules)).toEqual([]);
  }, 60_000);

  for (const [command, args] of [
    ['status', ['status', 'some-id', '--profile', 'absent']],
    ['cancel', ['cancel', 'some-id', '--profile', 'absent']],
    ['logs', ['logs', 'some-id', '--profile', 'absent']],
  ] as const) {
    it(`${command} loads the client and no worker code`, async () => {
      const { modules, exitCode } = await loadedBy([cli, ...args], command);
      // Exit 2: the profile is not in the config file, found after the command's modules loaded.
      expect(exitCode).toBe(2);
      expect(loadsClient(modules)).toBe(true);
      expect(workerCodeIn(modules)).toEqual([]);
    }, 60_000);
  }

  it('run loads the client and the pipeline parser, and no worker code', async () => {
    const { modules, exitCode } = await loadedBy([cli, 'run', badPipeline], 'run');
    expect(exitCode).toBe(2);
    expect(modules.some((p) => p.endsWith('/src/pipeline/parse.ts'))).toBe(true);
    expect(loadsClient(modules)).toBe(true);
    expect(workerCodeIn(modules)).toEqual([]);
  }, 60_000);
});
