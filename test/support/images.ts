/**
 * Real parts for the image tests: a local registry (Debian's docker-registry, its binary run
 * directly on 127.0.0.1 with a temporary storage folder and config, stopped after) and test
 * images made with umoci from the suite's busybox root filesystem, once per file.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  address: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (closed again: the registry takes it next). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startTestRegistry(): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'trs-registry-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  await mkdir(join(dir, 'storage'));
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'storage')} }, delete: { enabled: true } }`,
      `http: { addr: "${address}" }`,
      '',
    ].join('\n'),
  );
  const child: ResultPromise = execa('docker-registry', ['serve', config], {
    stdin: 'ignore',
    reject: false,
    cleanup: true,
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await fetch(`http://${address}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const result = await child;
      throw new Error(`docker-registry did not start on ${address}: ${String(result.stderr)}`);
    }
    await sleep(50);
  }
  return {
    address,
    async stop() {
      child.kill('SIGTERM');
      await child;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function umoci(...args: string[]): Promise<void> {
  await execa('umoci', args, { stdin: 'ignore' });
}

async function skopeo(...args: string[]): Promise<string> {
  const { stdout } = await execa('skopeo', args, { stdin: 'ignore' });
  return stdout;
}

/**
 * An OCI layout at `<dir>/layout` with these tags, all from the busybox root filesystem:
 * - `tool`: one layer; Entrypoint [/bin/sh, -c], a Cmd, Env, WorkingDir /work, User 1000:1000,
 *   and a hostile label and manifest annotation `dev.gvisor.flag.overlay2=none`;
 * - `layers`: three layers: busybox, one adding /etc/layer2 and /etc/doomed, one whiting out
 *   /etc/doomed;
 * - `plain`: busybox with no config at all (no Entrypoint, Cmd or User).
 */
export async function buildTestImages(dir: string, rootfs: string): Promise<string> {
  const layout = join(dir, 'layout');
  await umoci('init', '--layout', layout);
  await umoci('new', '--image', `${layout}:plain`);
  await umoci('insert', '--image', `${layout}:plain`, rootfs, '/');

  await umoci('new', '--image', `${layout}:tool`);
  await umoci('insert', '--image', `${layout}:tool`, rootfs, '/');
  await umoci(
    'config',
    '--image',
    `${layout}:tool`,
    '--config.entrypoint=/bin/sh',
    '--config.cmd=-c',
    '--config.cmd=echo from-image uid=$(id -u) cwd=$(pwd) IMG=$IMGVAR STEP=$STEPVAR',
    '--config.env=IMGVAR=image',
    '--config.env=STEPVAR=image-default',
    '--config.workingdir=/work',
    '--config.user=1000:1000',
    '--config.label=dev.gvisor.flag.overlay2=none',
    '--manifest.annotation=dev.gvisor.flag.overlay2=none',
  );

  const extra = join(dir, 'extra');
  await mkdir(join(extra, 'etc'), { recursive: true });
  await writeFile(join(extra, 'etc', 'layer2'), 'from layer two\n');
  await writeFile(join(extra, 'etc', 'doomed'), 'whited out by layer three\n');
  await umoci('new', '--image', `${layout}:layers`);
  await umoci('insert', '--image', `${layout}:layers`, rootfs, '/');
  await umoci('insert', '--image', `${layout}:layers`, extra, '/');
  await umoci('insert', '--image', `${layout}:layers`, '--whiteout', '/etc/doomed');
  await umoci(
    'config',
    '--image',
    `${layout}:layers`,
    '--config.cmd=/bin/sh',
    '--config.cmd=-c',
    '--config.cmd=cat /etc/layer2; test -e /etc/doomed && echo doomed-present || echo doomed-gone',
  );
  return layout;
}

/** Pushes `oci:<layout>:<tag>` to `<registry>/<repository>` and returns the manifest digest there. */
export async function pushImage(layout: string, tag: string, target: string): Promise<string> {
  await skopeo('copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${target}`);
  return (
    await skopeo(
      'inspect',
      '--no-tags',
      '--tls-verify=false',
      '--format',
      '{{.Digest}}',
      `docker://${target}`,
    )
  ).trim();
}

/** `docker save`'s format, made from the layout's tag. */
export async function dockerArchive(layout: string, tag: string, path: string, name: string): Promise<void> {
  await skopeo('copy', '--quiet', `oci:${layout}:${tag}`, `docker-archive:${path}:${name}`);
}
