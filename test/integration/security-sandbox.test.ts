/**
 * A hostile step against the sandbox itself, through a real worker and dev server: a daemon
 * that tries to outlive its step leaves no container, process or cgroup on the host, and writes
 * through /proc and /sys as the sandbox's root change no host setting. Each time the worker goes
 * on to the pipeline's next step.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pipelineResult, startPipeline } from '../../src/client/index.js';
import { listProcesses, processesOfRoot } from '../../src/host/processes.js';
import type { PipelineResult, StepReport } from '../../workflows/types.js';
import { testRuntime } from '../support/runtime.js';
import { startTestCluster, type TestCluster } from '../support/worker.js';

const runtime = testRuntime();
let cluster: TestCluster;

beforeAll(async () => {
  // One container at a time: a step that kept its slot would stall the next one.
  cluster = await startTestCluster({ maxConcurrentContainers: 1 });
});

afterAll(async () => {
  await cluster?.stop();
});

/** Runs the hostile step, then a plain one, in one pipeline; returns both reports. */
async function hostileThenNext(script: string) {
  const handle = await startPipeline(
    cluster.client,
    {
      name: 'hostile',
      // A step whose container never let go would end only by these, and fail.
      defaults: { heartbeatTimeout: '10s', timeout: '30s', retry: { maximumAttempts: 1 } },
      steps: [
        { name: 'attack', args: ['/bin/sh', '-c', script] },
        { name: 'next', args: ['/bin/sh', '-c', 'echo next ran'] },
      ],
    },
    { taskQueue: cluster.taskQueue },
  );
  const result: PipelineResult = await pipelineResult(handle);
  const step = (name: string) => result.steps.find((s) => s.name === name) as StepReport;
  return { result, attack: step('attack'), next: step('next') };
}

/**
 * Whatever on the host still belongs to a container: its runtime record, any process whose
 * arguments or cgroup name it, and its cgroup folders (v1 hierarchies or v2).
 */
async function hostTracesOf(containerId: string): Promise<string[]> {
  const traces: string[] = [];
  if (await runtime.exists(containerId)) traces.push(`runsc state ${containerId} still answers`);
  if ((await runtime.list()).some((c) => c.id === containerId))
    traces.push(`runsc list shows ${containerId}`);
  for (const proc of await listProcesses()) {
    if (proc.pid === process.pid) continue;
    const cgroup = await readFile(`/proc/${proc.pid}/cgroup`, 'utf8').catch(() => '');
    if (proc.args.some((arg) => arg.includes(containerId)) || cgroup.includes(containerId)) {
      traces.push(`process ${proc.pid}: ${proc.args.join(' ')}`);
    }
  }
  const hierarchies = await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  for (const dir of ['', ...hierarchies]) {
    const path = join('/sys/fs/cgroup', dir, 'temporal-runsc', containerId);
    if (existsSync(path)) traces.push(`cgroup ${path}`);
  }
  return traces;
}

describe('a daemon that outlives its step', () => {
  it('is gone with its container: no runsc record, process or cgroup is left, and the next step runs', async () => {
    // The markers name the daemons' own processes, so that one that ran on the host (or
    // survived as a sandbox of its own) would show in /proc by its arguments.
    const marker = `trs-daemon-${randomBytes(6).toString('hex')}`;
    const script = [
      // A new session, away from the step's stdio.
      `setsid sh -c 'touch /tmp/up-setsid; trap "" HUP TERM; while true; do sleep 1; done' ${marker}-setsid </dev/null >/dev/null 2>&1 &`,
      // A daemon proper: forked into the background and detached (busybox has no nohup).
      // (From a copy of busybox: start-stop-daemon refuses while another /bin/sh runs.)
      'cp /bin/busybox /tmp/busybox',
      `start-stop-daemon -S -b -x /tmp/busybox -- sh -c 'touch /tmp/up-daemon; trap "" HUP TERM; while true; do sleep 1; done' ${marker}-daemon`,
      // Orphaned by a double fork, deaf to hang-ups (nohup's part), holding the step's stdout.
      `( sh -c 'touch /tmp/up-orphan; trap "" HUP TERM; sleep 1000; :' ${marker}-orphan & ) &`,
      // All three are running (each has started its own script) when the step's own process exits.
      'until [ -e /tmp/up-setsid ] && [ -e /tmp/up-daemon ] && [ -e /tmp/up-orphan ]; do sleep 0.05; done',
      `ps -o pid,args | grep ${marker} | grep -v grep`,
      'echo started',
    ].join('\n');
    const run = await hostileThenNext(script);
    expect(run.attack).toMatchObject({ status: 'succeeded', exitCode: 0 });
    // One `ps` line per daemon, ending in its marker (the step's own line holds the whole script).
    for (const daemon of ['setsid', 'daemon', 'orphan']) {
      expect(run.attack.stdoutTail).toMatch(new RegExp(`^ *\\d+ .* ${marker}-${daemon}$`, 'm'));
    }
    expect(run.attack.stdoutTail).toMatch(/started\n$/);
    const containerId = run.attack.containerId as string;
    expect(containerId).toBeTruthy();

    expect(await hostTracesOf(containerId)).toEqual([]);
    const markers = (await listProcesses()).filter((p) => p.args.some((arg) => arg.includes(marker)));
    expect(markers).toEqual([]);
    // The runtime processes the step had (its `runsc run`, sandbox and gofer) are gone, and no
    // process of the suite's runsc root names the container.
    const ofRoot = await processesOfRoot(inject('runscRoot'));
    expect(ofRoot.filter((p) => p.args.some((arg) => arg.includes(containerId)))).toEqual([]);

    expect(run.next).toMatchObject({ status: 'succeeded', stdoutTail: 'next ran\n' });
    expect(run.result.status).toBe('completed');
  });
});

/** Host files a step as root in the sandbox tries to write, with a harmless new value each. */
interface HostSetting {
  name: string;
  path: string;
  /** The value the step writes: harmless to the host even if it got there. */
  write(current: string): string;
  /** The part of the file that is the setting (`[madvise]` for a choice list). */
  read?(text: string): string;
}

const hostSettings: HostSetting[] = [
  {
    name: 'hostname',
    path: '/proc/sys/kernel/hostname',
    write: () => `pwned-${randomBytes(3).toString('hex')}`,
  },
  {
    name: 'domainname',
    path: '/proc/sys/kernel/domainname',
    write: () => `pwned-${randomBytes(3).toString('hex')}`,
  },
  { name: 'pid_max', path: '/proc/sys/kernel/pid_max', write: (current) => String(Number(current) + 1) },
  // A plain file name, never a `|program`: a core dump on the host would only be named by it.
  { name: 'core_pattern', path: '/proc/sys/kernel/core_pattern', write: () => 'trs-pwned-core' },
  {
    name: 'thp',
    path: '/sys/kernel/mm/transparent_hugepage/enabled',
    write: (current) => (current === 'madvise' ? 'always' : 'madvise'),
    read: (text) => /\[(\w+)\]/.exec(text)?.[1] ?? text,
  },
  {
    name: 'ksm_sleep',
    path: '/sys/kernel/mm/ksm/sleep_millisecs',
    write: (current) => String(Number(current) + 1),
  },
];

async function readSetting(setting: HostSetting): Promise<string | undefined> {
  const text = await readFile(setting.path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return (setting.read ?? ((t: string) => t))(text.trim());
}

describe('writes through /proc and /sys', () => {
  it("change none of the host's settings, and the next step runs", async () => {
    const before = new Map<string, string>();
    for (const setting of hostSettings) {
      const value = await readSetting(setting);
      if (value !== undefined) before.set(setting.name, value);
    }
    expect([...before.keys()]).toEqual(expect.arrayContaining(['hostname', 'pid_max', 'core_pattern']));
    const attempts = hostSettings
      .filter((s) => before.has(s.name))
      .map((s) => ({ name: s.name, path: s.path, value: s.write(before.get(s.name) as string) }));

    const value = (name: string) => attempts.find((a) => a.name === name)?.value;
    const probes = [
      ...attempts.map((a) => ({ name: a.name, command: `echo ${a.value} > ${a.path}` })),
      { name: 'drop_caches', command: 'echo 1 > /proc/sys/vm/drop_caches' },
      // `h` only prints help to the kernel log, should it get through.
      { name: 'sysrq', command: 'echo h > /proc/sysrq-trigger' },
      { name: 'sethostname', command: `hostname ${value('hostname')}` },
      { name: 'sysctl', command: `sysctl -w kernel.pid_max=${value('pid_max')}` },
      // A proc or sysfs of its own, or /proc/sys made writable again.
      {
        name: 'mount_proc',
        command: `mkdir -p /tmp/p && mount -t proc proc /tmp/p && echo ${value('hostname')} > /tmp/p/sys/kernel/hostname`,
      },
      {
        name: 'remount_proc',
        command: `mount -o remount,rw /proc/sys && echo ${value('hostname')} > /proc/sys/kernel/hostname`,
      },
      { name: 'mount_sysfs', command: 'mkdir -p /tmp/s && mount -t sysfs sysfs /tmp/s' },
    ];
    // Each probe prints its name and the exit status of its write, whatever happens.
    const script = [
      'echo "uid=$(id -u)"',
      ...probes.map((p) => `( ${p.command} ) 2>/dev/null; echo "${p.name}=$?"`),
      // What the sandbox itself says afterwards (the 2022 build has no pid_max file).
      'echo "seen hostname=$(cat /proc/sys/kernel/hostname) pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null)"',
    ].join('\n');

    let run: Awaited<ReturnType<typeof hostileThenNext>>;
    const changed: string[] = [];
    try {
      run = await hostileThenNext(script);
    } finally {
      // A setting that did change is put back before the test fails on it.
      for (const setting of hostSettings) {
        const value = before.get(setting.name);
        if (value === undefined) continue;
        const now = await readSetting(setting);
        if (now !== value) {
          changed.push(`${setting.name}: ${value} -> ${now}`);
          await writeFile(setting.path, value).catch(() => undefined);
        }
      }
    }
    expect(changed).toEqual([]);
    // The step ran as the sandbox's root, and every probe was made (the tail says how each ended).
    expect(run.attack.status).toBe('succeeded');
    expect(run.attack.stdoutTail).toMatch(/^uid=0$/m);
    for (const { name } of probes) expect(run.attack.stdoutTail).toMatch(new RegExp(`^${name}=\\d+$`, 'm'));
    expect(run.next).toMatchObject({ status: 'succeeded', stdoutTail: 'next ran\n' });
  });
});
