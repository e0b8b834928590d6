/** cleanupHost against real runsc state: what an operator would otherwise clear by hand. */
import { mkdir, readdir, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, inject, it } from 'vitest';
import { cleanupHost } from '../../src/host/cleanup.js';
import { LiveContainers } from '../../src/host/live-containers.js';
import { Runsc } from '../../src/runtime/index.js';
import { leaveStopped, testBundle, testRuntime } from '../support/runtime.js';

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

  it('detects a list hung on a held lock, ends the holder, and then cleans', async () => {
    const stuck = `trs-stuck-${suffix()}`;
    await leaveStopped(runtime, stuck);
    // Test-only fault: a process holds the container's lock, as a stuck runsc does.
    const holder = execa(
      'flock',
      ['--no-fork', join(runtime.stateRoot, `${stuck}_sandbox:${stuck}.lock`), 'sleep', '120'],
      {
        reject: false,
      },
    );
    await sleep(200);
    const report = await cleanupHost(runtime, { listTimeoutMs: 1000 });
    const ended = await holder;
    expect(report.listHung).toBe(true);
    expect(report.hungProcessesKilled.map((p) => p.pid)).toContain(holder.pid);
    expect(ended.signal).toBe('SIGKILL');
    expect(report.containers).toContainEqual(expect.objectContaining({ id: stuck, action: 'aborted' }));
    expect(await runtime.exists(stuck)).toBe(false);
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

    await writeFile(join(wipeRoot, 'junk.state'), '{}');
    const wiped = await cleanupHost(rt, { wipe: true });
    expect(wiped.wiped).toBe(true);
    expect(await readdir(wipeRoot)).toEqual([]);
  });
});
