/** cleanupHost against real runsc state: what an operator would otherwise clear by hand. */
import { mkdir, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, inject, it } from 'vitest';
import { cleanupHost } from '../../src/host/cleanup.js';
import { LiveContainers } from '../../src/host/live-containers.js';
import { isAlive, processArgs } from '../../src/host/processes.js';
import { Runsc, traitsFor, UnsafeStateRoot } from '../../src/runtime/index.js';
import { isMountPoint } from '../../src/workspace/mounts.js';
import { leaveStopped, removeTestRoot, testBundle, testRuntime } from '../support/runtime.js';
import { fakeStuckRuntime, untilExecd } from '../support/stuck-runtime.js';
import { repoRoot } from '../support/worker-cli.js';

const runtime = testRuntime();

function suffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

describe('cleanupHost', () => {
  it('removes our stopped containers and lone lock files, keeps foreign and live ones, and reports it all', async () => {
    const stopped = `trs-stopped-${suffix()}`;
    const foreign = `someone-else-${suffix()}`;
    const live = `trs-live-${suffix()}`;
    const lone = `trs-lone-${suffix()}`;
    await leaveStopped(runtime, stopped);
    await leaveStopped(runtime, foreign);
    const liveSet = new LiveContainers();
    liveSet.add(live);
    const liveRun = runtime.run(live, await testBundle(live, ['/bin/sleep', '60']), {});
    while ((await runtime.state(live).catch(() => undefined))?.status !== 'running') await sleep(25);
    const loneLock = join(runtime.stateRoot, `${lone}_sandbox:${lone}.lock`);
    await writeFile(loneLock, '');

    try {
      const report = await cleanupHost(runtime, { live: liveSet });
      expect(report.listHung).toBe(false);
      expect(report.containers).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: stopped, status: 'stopped', action: 'aborted' }),
          expect.objectContaining({ id: foreign, action: 'kept-foreign' }),
          expect.objectContaining({ id: live, status: 'running', action: 'kept-live' }),
        ]),
      );
      expect(report.lockFilesRemoved).toEqual([loneLock]);
      expect(await runtime.exists(stopped)).toBe(false);
      expect((await runtime.state(foreign)).status).toBe('stopped');
      expect((await runtime.state(live)).status).toBe('running');
      expect(await readdir(runtime.stateRoot)).not.toContain(`${lone}_sandbox:${lone}.lock`);
    } finally {
      await runtime.abort(foreign);
      await runtime.kill(live, 'KILL').catch(() => undefined);
      await liveRun;
    }
  });

  it('detects a list hung on a held lock, ends the runtime process holding it, spares processes of other roots, and then cleans', async () => {
    const stuck = `trs-stuck-${suffix()}`;
    await leaveStopped(runtime, stuck);
    const root = runtime.stateRoot;
    // Test-only fault: a runtime command of this root holds the container's lock, as a stuck runsc does.
    const fake = fakeStuckRuntime({
      rootArg: root,
      subcommand: 'state',
      id: stuck,
      lock: join(root, `${stuck}_sandbox:${stuck}.lock`),
    });
    const holder = execa(fake.command, fake.args, { reject: false });
    // Stuck commands of other roots whose names start with this one: never ours to end.
    const spared = [`${root}x`, `${root}-2`, `${root}/nested`].map((rootArg) => {
      const other = fakeStuckRuntime({ rootArg, subcommand: 'list', id: stuck });
      return execa(other.command, other.args, { reject: false });
    });
    try {
      // Every fake has exec'd its shell (the holder's flock does once it holds the lock).
      for (const child of [holder, ...spared]) await untilExecd(child.pid as number, 'bash');
      // Room for the second, real list (after the holder is ended) on a loaded machine.
      const report = await cleanupHost(runtime, { listTimeoutMs: 3000 });
      const ended = await holder;
      expect(report.listHung).toBe(true);
      expect(report.hungProcessesKilled.map((p) => p.pid)).toContain(holder.pid);
      expect(ended.signal).toBe('SIGKILL');
      expect(report.containers).toContainEqual(expect.objectContaining({ id: stuck, action: 'aborted' }));
      expect(await runtime.exists(stuck)).toBe(false);
      for (const other of spared) {
        expect(report.hungProcessesKilled.map((p) => p.pid)).not.toContain(other.pid);
        expect(isAlive(other.pid as number)).toBe(true);
      }
    } finally {
      holder.kill('SIGKILL');
      for (const other of spared) other.kill('SIGKILL');
      await Promise.all([holder, ...spared]);
    }
  });

  it('reports a lock holder that is not a runtime process of this root, and leaves it alone', async () => {
    const stuck = `trs-held-${suffix()}`;
    await leaveStopped(runtime, stuck);
    // Test-only fault: some other program (not runsc) holds the container's lock.
    const holder = execa(
      'flock',
      ['--no-fork', join(runtime.stateRoot, `${stuck}_sandbox:${stuck}.lock`), 'sleep', '120'],
      { reject: false },
    );
    try {
      // With --no-fork, flock runs sleep in its own process once it holds the lock.
      await untilExecd(holder.pid as number, 'sleep');
      const report = await cleanupHost(runtime, { listTimeoutMs: 1000 });
      expect(report.listHung).toBe(true);
      expect(report.hungProcessesKilled.map((p) => p.pid)).not.toContain(holder.pid);
      expect(report.problems.join('\n')).toMatch(
        new RegExp(`process ${holder.pid} .* is not a runtime process of ${runtime.stateRoot}: not ended`),
      );
      expect(isAlive(holder.pid as number)).toBe(true);
    } finally {
      holder.kill('SIGKILL');
      await holder;
      expect((await runtime.abort(stuck)).gone).toBe(true);
    }
  });

  it('removes a stale record by hand when its recorded pids now belong to another process, which it spares', async () => {
    const id = `trs-reused-${suffix()}`;
    await leaveStopped(runtime, id);
    const stateFile = join(runtime.stateRoot, `${id}_sandbox:${id}.state`);
    // A real, unrelated process whose pid the stale record will name.
    const unrelated = execa('sleep', ['300'], { reject: false });
    try {
      // Simulating a fault the real thing cannot be made to show on demand: the sandbox's pid
      // reused by another process. The record is real runsc's, of a container killed behind the
      // library's back; only its pid fields are rewritten.
      const record = JSON.parse(await readFile(stateFile, 'utf8'));
      record.sandbox.pid = unrelated.pid;
      record.goferPid = unrelated.pid;
      await writeFile(stateFile, JSON.stringify(record));

      const report = await cleanupHost(runtime);
      const entry = report.containers.find((c) => c.id === id);
      expect(entry).toMatchObject({ action: 'removed-record' });
      expect(entry?.detail).toMatch(new RegExp(`sandbox pid ${unrelated.pid} now belongs to "sleep 300"`));
      expect(isAlive(unrelated.pid as number)).toBe(true);
      expect(await runtime.exists(id)).toBe(false);
      expect((await readdir(runtime.stateRoot)).filter((name) => name.includes(id))).toEqual([]);
    } finally {
      unrelated.kill('SIGKILL');
      await unrelated;
      await removeCgroupsOf(id);
    }
  });

  it("spares another live container whose sandbox and gofer took a stale record's pids", async () => {
    const other = `trs-neighbour-${suffix()}`;
    const ids: string[] = [];
    const liveSet = new LiveContainers();
    liveSet.add(other);
    const stateFile = (name: string) => join(runtime.stateRoot, `${name}_sandbox:${name}.state`);
    // Another container of the same root, running (attached, in the background), not live here:
    // its runsc-sandbox and runsc-gofer name this root too, only not this record's id or bundle.
    const stop = new AbortController();
    const otherRun = runtime.run(other, await testBundle(other, ['/bin/sleep', '120']), {
      signal: stop.signal,
      graceMs: 100,
    });
    try {
      while ((await runtime.state(other).catch(() => undefined))?.status !== 'running') await sleep(25);
      const neighbour = JSON.parse(await readFile(stateFile(other), 'utf8'));
      const sandboxPid = neighbour.sandbox.pid as number;
      const goferPid = neighbour.goferPid as number;
      expect((await processArgs(sandboxPid))?.[0]).toMatch(/runsc-sandbox$/);
      expect((await processArgs(goferPid))?.[0]).toMatch(/runsc-gofer$/);
      // Simulating a fault the real thing cannot be made to show on demand: the stale record's
      // pids reused by the other container's sandbox and gofer (only the pid fields rewritten).
      for (const pids of [
        { sandbox: sandboxPid, gofer: goferPid },
        { sandbox: sandboxPid, gofer: 0 },
        { sandbox: 0, gofer: goferPid },
      ]) {
        const id = `trs-reused-${suffix()}`;
        ids.push(id);
        await leaveStopped(runtime, id);
        const record = JSON.parse(await readFile(stateFile(id), 'utf8'));
        record.sandbox.pid = pids.sandbox;
        record.goferPid = pids.gofer;
        await writeFile(stateFile(id), JSON.stringify(record));

        const report = await cleanupHost(runtime, { live: liveSet });
        const entry = report.containers.find((c) => c.id === id);
        expect(entry).toMatchObject({ action: 'removed-record' });
        expect(entry?.detail).toMatch(/now belongs to "runsc-(sandbox|gofer) /);
        expect(await runtime.exists(id)).toBe(false);
        // The neighbour was not killed: both its processes run, and so does it.
        expect(isAlive(sandboxPid) && isAlive(goferPid)).toBe(true);
        expect((await runtime.state(other)).status).toBe('running');
      }
    } finally {
      stop.abort();
      await otherRun;
      for (const id of ids) {
        await runtime.abort(id).catch(() => undefined);
        await removeCgroupsOf(id);
      }
    }
    expect(await runtime.exists(other)).toBe(false);
  });

  it('removes control sockets and lock files of containers that are gone, not of live ones', async () => {
    const gone = `trs-gone-${suffix()}`;
    const live = `trs-livesock-${suffix()}`;
    const socket = join(runtime.stateRoot, `runsc-${gone}.sock`);
    const liveSocket = join(runtime.stateRoot, `runsc-${live}.sock`);
    await writeFile(socket, '');
    await writeFile(liveSocket, '');
    const liveSet = new LiveContainers();
    liveSet.add(live);
    try {
      const report = await cleanupHost(runtime, { live: liveSet });
      expect(report.socketsRemoved).toEqual([socket]);
      const left = await readdir(runtime.stateRoot);
      expect(left).not.toContain(`runsc-${gone}.sock`);
      expect(left).toContain(`runsc-${live}.sock`);
    } finally {
      await rm(liveSocket, { force: true });
    }
  });

  it('removes empty cgroups left under a container id the runtime no longer knows', async () => {
    // What a runtime that died before `delete` leaves: a real (empty) cgroup named after the id.
    const left = `trs-left-${suffix()}`;
    const foreign = `other-${suffix()}`;
    const dirs = [
      `/sys/fs/cgroup/pids/temporal-runsc/${left}`,
      `/sys/fs/cgroup/memory/temporal-runsc/${left}`,
    ];
    const foreignDir = `/sys/fs/cgroup/pids/temporal-runsc/${foreign}`;
    for (const dir of [...dirs, foreignDir]) await mkdir(dir, { recursive: true });
    try {
      const young = await cleanupHost(runtime);
      expect(young.cgroupsRemoved).toEqual([]); // could belong to a container of another root being created
      const report = await cleanupHost(runtime, { cgroupMinAgeMs: 0 });
      expect(report.cgroupsRemoved).toEqual(expect.arrayContaining(dirs));
      expect(report.cgroupsRemoved).not.toContain(foreignDir);
      for (const dir of dirs) await expect(stat(dir)).rejects.toThrow();
    } finally {
      await rmdir(foreignDir);
    }
  });

  it('never touches another root', async () => {
    const otherRoot = join(inject('workDir'), `other-root-${suffix()}`);
    await mkdir(otherRoot, { recursive: true });
    const other = new Runsc({ ...runtime.options, root: otherRoot });
    const id = `trs-other-${suffix()}`;
    await leaveStopped(other, id);
    try {
      const report = await cleanupHost(runtime);
      expect(report.containers.map((c) => c.id)).not.toContain(id);
      expect((await other.state(id)).status).toBe('stopped');
    } finally {
      expect((await other.abort(id)).gone).toBe(true);
      await removeTestRoot(otherRoot);
    }
  });

  it('wipes the state directory only when no sandbox of that root runs', async () => {
    const wipeRoot = join(inject('workDir'), `wipe-root-${suffix()}`);
    await mkdir(wipeRoot, { recursive: true });
    const rt = new Runsc({ ...runtime.options, root: wipeRoot });
    const id = `someone-${suffix()}`;
    const running = rt.run(id, await testBundle(id, ['/bin/sleep', '60']), {});
    while ((await rt.state(id).catch(() => undefined))?.status !== 'running') await sleep(25);
    const refused = await cleanupHost(rt, { wipe: true });
    expect(refused.wiped).toBe(false);
    expect(refused.problems.join()).toMatch(/wipe refused/);
    expect((await rt.state(id)).status).toBe('running');
    await rt.kill(id, 'KILL');
    await running;

    const before = await readdir(wipeRoot);
    if (((await traitsFor(rt)).release ?? '') >= '20260810') {
      // Current runsc bind-mounts a network namespace in the root and never removes it.
      expect(before).toContain('null-netns');
      expect(await isMountPoint(join(wipeRoot, 'null-netns'))).toBe(true);
    }
    // A lone lock file and a stale socket: runtime files that no container owns any more.
    await writeFile(join(wipeRoot, 'trs-junk_sandbox:trs-junk.lock'), '');
    await writeFile(join(wipeRoot, 'runsc-trs-junk.sock'), '');
    const wiped = await cleanupHost(rt, { wipe: true });
    expect(wiped.problems).toEqual([]);
    expect(wiped.wiped).toBe(true);
    expect(await readdir(wipeRoot)).toEqual([]);
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mountinfo).not.toContain(wipeRoot);
    await rmdir(wipeRoot);
  });

  it('refuses a root that is not a runtime state directory, naming why, and touches nothing in it', async () => {
    const base = join(inject('workDir'), `refuse-${suffix()}`);
    const withForeign = join(base, 'foreign');
    const withNested = join(base, 'nested');
    await mkdir(withForeign, { recursive: true });
    await mkdir(join(withNested, 'inner'), { recursive: true });
    await writeFile(join(withForeign, 'notes.txt'), 'mine');
    await writeFile(join(withForeign, 'trs-x_sandbox:trs-x.lock'), '');
    // A nested root: a subfolder with state files of its own, never entered.
    await writeFile(join(withNested, 'inner', 'trs-y_sandbox:trs-y.state'), '{}');
    const cases: [string, RegExp][] = [
      ['/', /file system root/],
      ['.', /must be an absolute path/],
      ['relative/root', /must be an absolute path/],
      [homedir(), /home folder/],
      [`${withForeign}/`, /plain absolute path/],
      [`${base}/../${'foreign'}`, /plain absolute path/],
      [withForeign, /holds files that are not runsc state \(notes\.txt\)/],
      [withNested, /holds files that are not runsc state \(inner\)/],
    ];
    for (const [root, reason] of cases) {
      const error = await cleanupHost(new Runsc({ ...runtime.options, root }), { wipe: true }).catch(
        (e) => e,
      );
      expect(error, root).toBeInstanceOf(UnsafeStateRoot);
      expect((error as Error).message, root).toMatch(reason);
    }
    expect((await readdir(withForeign)).sort()).toEqual(['notes.txt', 'trs-x_sandbox:trs-x.lock']);
    expect(await readdir(join(withNested, 'inner'))).toEqual(['trs-y_sandbox:trs-y.state']);

    // The CLI: exit 2 and the reason, nothing touched.
    const cli = await execa(
      'node',
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'cleanup',
        `--runtime=${runtime.command}`,
        `--root=${withForeign}`,
        '--wipe',
      ],
      { cwd: repoRoot, reject: false },
    );
    expect(cli.exitCode).toBe(2);
    expect(cli.stderr).toMatch(/holds files that are not runsc state \(notes\.txt\)/);
    expect((await readdir(withForeign)).sort()).toEqual(['notes.txt', 'trs-x_sandbox:trs-x.lock']);
    await rm(base, { recursive: true });
  });
});

/** Empty cgroups runsc made for `id` (under `/<id>` or our `temporal-runsc/<id>`), in each hierarchy. */
async function removeCgroupsOf(id: string): Promise<void> {
  for (const controller of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    for (const dir of [
      join('/sys/fs/cgroup', controller, id),
      join('/sys/fs/cgroup', controller, 'temporal-runsc', id),
    ]) {
      await rmdir(dir).catch(() => undefined);
    }
  }
}
