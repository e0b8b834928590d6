/**
 * Secrets through a pipeline on the real dev server: the worker resolves them from its own store;
 * the value reaches the step's environment and nothing else (history, result, tails, disk).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pipelineResult, startPipeline } from '../../src/client/index.js';
import { Runsc } from '../../src/runtime/index.js';
import { testRuntime } from '../support/runtime.js';
import { startTestCluster, type TestCluster } from '../support/worker.js';

const secretValue = `s3cr3t-${randomBytes(8).toString('hex')}`;
const store = join(inject('workDir'), `secrets-${randomBytes(4).toString('hex')}`);
let cluster: TestCluster;
let workerWorkDir: string;

beforeAll(async () => {
  await mkdir(store, { recursive: true, mode: 0o700 });
  await chmod(store, 0o700);
  await writeFile(join(store, 'DEPLOY_TOKEN'), `${secretValue}\n`, { mode: 0o600 });
  await writeFile(join(store, 'NOT_ALLOWED'), 'other', { mode: 0o600 });
  workerWorkDir = join(inject('workDir'), 'workers', `secrets-${randomBytes(4).toString('hex')}`);
  cluster = await startTestCluster({
    workDir: workerWorkDir,
    policy: { secrets: { dir: store, allow: ['DEPLOY_TOKEN'] } },
  });
});

afterAll(async () => {
  await cluster?.stop();
  await rm(store, { recursive: true, force: true });
});

describe('a step’s secrets', () => {
  it('reach its environment only: masked in tails, absent from history, config.json 0600 and removed', async () => {
    const handle = await startPipeline(
      cluster.client,
      {
        name: 'secrets',
        steps: [
          {
            name: 'deploy',
            args: ['/bin/sh', '-c', 'echo "token=$TOKEN"; printf "%s" "$TOKEN" >&2; sleep 3'],
            secrets: { TOKEN: 'DEPLOY_TOKEN' },
          },
        ],
      },
      { taskQueue: cluster.taskQueue },
    );
    // While the step runs, its bundle holds the value: only root may read it.
    let mode: number | undefined;
    const deadline = Date.now() + 20_000;
    while (mode === undefined && Date.now() < deadline) {
      const [config] = await configFilesUnder(workerWorkDir);
      if (config)
        mode = await stat(config).then(
          (s) => s.mode & 0o777,
          () => undefined,
        );
      await sleep(20);
    }
    const result = await pipelineResult(handle);
    expect(result.status).toBe('completed');
    expect(result.steps[0]).toMatchObject({ stdoutTail: 'token=***\n', stderrTail: '***' });
    expect(mode?.toString(8)).toBe('600');
    expect(await configFilesUnder(workerWorkDir)).toEqual([]);

    const history = await historyText(handle);
    expect(history).toContain('DEPLOY_TOKEN'); // the name travels, the value never does
    expect(history).not.toContain(secretValue);
    expect(JSON.stringify(result)).not.toContain(secretValue);
  });

  it('a secret the policy does not allow fails the step as InvalidStep naming it, never its value', async () => {
    const handle = await startPipeline(
      cluster.client,
      { name: 'secrets-denied', steps: [{ name: 'sneak', args: ['/bin/true'], secrets: ['NOT_ALLOWED'] }] },
      { taskQueue: cluster.taskQueue },
    );
    const error = (await pipelineResult(handle).catch((e: unknown) => e)) as Error;
    const history = await historyText(handle);
    expect(history).toMatch(/secrets\.NOT_ALLOWED: secret NOT_ALLOWED is not allowed on this worker/);
    expect(history).toContain('InvalidStep');
    expect(history).not.toContain('"other"');
    expect(error).toBeDefined();
  });
});

describe('a runtime failure quoting a secret', () => {
  // TEST-ONLY fake (a real runsc cannot be made to quote the spec on demand): a runsc whose `run`
  // fails with a JSON error-log line and a stderr line that quote the step's env, as a runtime's
  // error may quote its spec; every other call goes to the real runsc.
  const fakeScript = (real: string) => `#!/bin/bash
log= bundle= run=
for ((i = 1; i <= $#; i++)); do
  arg=\${!i}
  case $arg in
    --log=*) log=\${arg#--log=} ;;
    run) run=1 ;;
    --bundle) next=$((i + 1)); bundle=\${!next} ;;
  esac
done
if [[ -z $run ]]; then exec ${real} "$@"; fi
env=$(grep -o 'TOKEN=[^"]*' "$bundle/config.json")
printf '{"level":"error","msg":"cannot start: spec env %s"}\\n' "$env" >> "$log"
echo "runsc: spec env $env" >&2
exit 1
`;
  let fake: TestCluster | undefined;

  afterAll(async () => {
    await fake?.stop();
  });

  it('is masked in the failure and its details: the value is not in the history', async () => {
    const script = join(store, '..', `fake-runsc-${randomBytes(4).toString('hex')}`);
    await writeFile(script, fakeScript(inject('runtimeCommand')), { mode: 0o755 });
    const real = testRuntime();
    fake = await startTestCluster({
      workDir: join(inject('workDir'), 'workers', `secrets-fake-${randomBytes(4).toString('hex')}`),
      runtime: new Runsc({ ...real.options, command: script }),
      policy: { secrets: { dir: store, allow: ['DEPLOY_TOKEN'] } },
    });
    const handle = await startPipeline(
      fake.client,
      {
        name: 'secrets-runtime-error',
        steps: [
          {
            name: 'deploy',
            args: ['/bin/true'],
            secrets: { TOKEN: 'DEPLOY_TOKEN' },
            retry: { maximumAttempts: 1 },
          },
        ],
      },
      { taskQueue: fake.taskQueue },
    );
    const error = await pipelineResult(handle).catch((e: unknown) => e);
    expect(error).toBeDefined();
    const history = await historyText(handle);
    expect(history).toContain('RuntimeError');
    expect(history).toContain('spec env TOKEN=***');
    expect(history).not.toContain(secretValue);
    await rm(script, { force: true });
  });
});

/** The run folders of a worker's work dir: where a bundle (config.json) lives while it runs. */
/** The workflow's whole history as text, with every payload decoded (they are base64 on the wire). */
async function historyText(handle: { fetchHistory(): Promise<{ events?: unknown }> }): Promise<string> {
  const history = await handle.fetchHistory();
  const texts: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') texts.push(value, Buffer.from(value, 'base64').toString('utf8'));
    else if (value instanceof Uint8Array) texts.push(Buffer.from(value).toString('utf8'));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(history.events);
  return texts.join('\n');
}

async function configFilesUnder(workDir: string): Promise<string[]> {
  const runs = await readdir(join(workDir, 'runs')).catch(() => [] as string[]);
  const found: string[] = [];
  for (const run of runs) {
    const path = join(workDir, 'runs', run, 'bundle', 'config.json');
    if (
      await stat(path).then(
        () => true,
        () => false,
      )
    )
      found.push(path);
  }
  return found;
}
