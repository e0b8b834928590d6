import { access, chmod, copyFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

/** Where this library keeps what it builds once per machine (root filesystem, dev server). */
export function cacheDir(): string {
  return (
    process.env.TEMPORAL_RUNSC_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'temporal-runsc')
  );
}

export function defaultRootfsDir(): string {
  return join(cacheDir(), 'rootfs', 'busybox');
}

const busyboxCandidates = ['/usr/bin/busybox', '/bin/busybox'];

/**
 * Builds a minimal busybox root filesystem (static busybox, its applets as links, the folders a
 * step expects) at `dir`, once: a finished rootfs is marked, and a half-built one from an
 * interrupted build is replaced. Returns the folder.
 */
export async function ensureBusyboxRootfs(dir = defaultRootfsDir()): Promise<string> {
  const marker = join(dir, '.temporal-runsc-rootfs');
  if (await exists(marker)) return dir;

  const busybox = await findBusybox();
  const staging = `${dir}.building-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  for (const folder of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'out', 'in', 'work', 'root']) {
    await mkdir(join(staging, folder), { recursive: true });
  }
  await chmod(join(staging, 'tmp'), 0o1777);
  await copyFile(busybox, join(staging, 'bin', 'busybox'));
  await chmod(join(staging, 'bin', 'busybox'), 0o755);
  const { stdout } = await execa(busybox, ['--list']);
  for (const applet of stdout.split('\n').filter((name) => /^[a-z0-9_.[-]+$/.test(name))) {
    if (applet === 'busybox') continue;
    await symlink('busybox', join(staging, 'bin', applet)).catch(() => undefined);
  }
  await writeFile(
    join(staging, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  await writeFile(join(staging, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  await writeFile(join(staging, '.temporal-runsc-rootfs'), 'busybox rootfs built by temporal-runsc\n');
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, '..'), { recursive: true });
  await rename(staging, dir);
  return dir;
}

async function findBusybox(): Promise<string> {
  for (const candidate of busyboxCandidates) {
    if (await exists(candidate)) {
      const { stdout } = await execa('file', ['-L', candidate], { reject: false });
      if (!stdout || /statically linked|static-pie/.test(stdout)) return candidate;
    }
  }
  throw new Error(
    "no static busybox found: install Debian's busybox-static (apt-get install busybox-static), or run scripts/setup.sh",
  );
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
