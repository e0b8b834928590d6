import { describe, expect, it } from 'vitest';
import { parseBundleSpec } from '../../src/bundle/create-bundle.js';
import { toOciConfig } from '../../src/bundle/oci.js';
import { applyImageDefaults, imageDefaultsFrom } from '../../src/image/config.js';
import { parseImageReference, repositoryAllowedBy, skopeoSource } from '../../src/image/reference.js';
import { classifyToolFailure } from '../../src/image/tool.js';
import { parsePipeline } from '../../src/pipeline/index.js';
import { parsePolicy } from '../../src/policy/load.js';
import { globalArgs } from '../../src/runtime/args.js';

const digest = `sha256:${'a'.repeat(64)}`;

describe('image references', () => {
  it('takes a registry reference by tag or by digest, and fetches by digest once resolved', () => {
    const tagged = parseImageReference('registry.example/team/tool:1.4');
    expect(tagged).toEqual({
      kind: 'registry',
      text: 'registry.example/team/tool:1.4',
      registry: 'registry.example',
      repository: 'registry.example/team/tool',
      tag: '1.4',
    });
    expect(skopeoSource(tagged as never)).toBe('docker://registry.example/team/tool:1.4');
    expect(skopeoSource(tagged as never, digest)).toBe(`docker://registry.example/team/tool@${digest}`);
    expect(parseImageReference(`127.0.0.1:5000/tool@${digest}`)).toMatchObject({
      registry: '127.0.0.1:5000',
      digest,
    });
  });

  it('takes local layouts and archives by absolute path', () => {
    expect(parseImageReference('oci:/srv/images/tool:1.4')).toMatchObject({
      kind: 'oci',
      path: '/srv/images/tool',
      tag: '1.4',
    });
    expect(parseImageReference('docker-archive:/srv/t.tar')).toMatchObject({
      kind: 'docker-archive',
      path: '/srv/t.tar',
    });
    expect(parseImageReference('oci-archive:/srv/t.tar')).toMatchObject({ kind: 'oci-archive' });
  });

  it.each([
    ['busybox:1.36', 'does not name its registry'],
    ['team/tool:1', 'does not name its registry'],
    ['registry.example/team/tool', 'names no tag or digest'],
    ['registry.example/Team/tool:1', 'is not an image reference'],
    ['registry.example/team/tool:1;rm -rf /', 'is not an image reference'],
    [`registry.example/tool@sha512:${'a'.repeat(128)}`, 'is not an image reference'],
    ['docker://registry.example/tool:1', 'without a transport'],
    ['oci:relative/path', 'absolute path'],
    ['oci:/srv/../etc:x', 'absolute path'],
    ['docker-archive:/srv/t.tar:name:1', 'takes a path only'],
    ['', 'must be an image reference'],
  ])('refuses %j, saying it %s', (text, why) => {
    const parsed = parseImageReference(text);
    expect(parsed).toHaveProperty('problem');
    expect((parsed as { problem: string }).problem).toContain(why);
  });

  it('matches policy prefixes on path boundaries only', () => {
    expect(repositoryAllowedBy('registry.example/team/tool', 'registry.example/team')).toBe(true);
    expect(repositoryAllowedBy('registry.example/team/tool', 'registry.example/team/')).toBe(true);
    expect(repositoryAllowedBy('registry.example/team/tool', 'registry.example')).toBe(true);
    expect(repositoryAllowedBy('registry.example/teamevil/tool', 'registry.example/team')).toBe(false);
    expect(repositoryAllowedBy('registry.example.evil/team/tool', 'registry.example')).toBe(false);
  });

  it('sorts tool failures: a registry down is retryable, a missing tag or a refused login is not', () => {
    expect(classifyToolFailure('dial tcp 127.0.0.1:5000: connect: connection refused')).toBe('unreachable');
    expect(classifyToolFailure('reading manifest 2 in r/x: manifest unknown: manifest unknown')).toBe(
      'not-found',
    );
    expect(classifyToolFailure('unauthorized: authentication required')).toBe('denied');
    expect(classifyToolFailure('invalid status code from registry 403 (Forbidden)')).toBe('denied');
  });

  it('does not take a port for a status code', () => {
    // Ports 40107 and 5023 hold "401" and "502": the reason must come from the words.
    const missing = 'reading manifest x in 127.0.0.1:40107/team/tool: manifest unknown';
    expect(classifyToolFailure(missing)).toBe('not-found');
    expect(classifyToolFailure('127.0.0.1:5023 /team/tool: broken layer')).toBe('failed');
  });
});

describe('an image config', () => {
  const config = (c: unknown) => ({ config: c });

  it('is applied as an engine does: args replace Cmd, the step’s fields over the image’s', () => {
    const image = imageDefaultsFrom(
      config({
        Entrypoint: ['/bin/tool'],
        Cmd: ['--help'],
        Env: ['A=1', 'B=x=y'],
        WorkingDir: '/app',
        User: 'app',
      }),
      { process: { user: { uid: 1000, gid: 1001 } } },
    );
    expect(image).toEqual({
      entrypoint: ['/bin/tool'],
      cmd: ['--help'],
      env: { A: '1', B: 'x=y' },
      workingDir: '/app',
      user: { uid: 1000, gid: 1001 },
    });
    expect(applyImageDefaults({}, image)).toEqual({
      args: ['/bin/tool', '--help'],
      cwd: '/app',
      user: { uid: 1000, gid: 1001 },
      env: { A: '1', B: 'x=y' },
    });
    expect(applyImageDefaults({ args: ['run'], cwd: '/tmp', user: { uid: 0, gid: 0 } }, image)).toMatchObject(
      {
        args: ['/bin/tool', 'run'],
        cwd: '/tmp',
        user: { uid: 0, gid: 0 },
      },
    );
  });

  it('refuses bad Env names and a relative WorkingDir, naming image.config fields', () => {
    expect(() => imageDefaultsFrom(config({ Env: ['1BAD=x', 'NOEQUALS'], WorkingDir: 'app' }), {})).toThrow(
      /image\.config\.Env\[0\][\s\S]*image\.config\.Env\[1\][\s\S]*image\.config\.WorkingDir/,
    );
  });

  it('refuses an absurd config (too many entries) and a step with nothing to run', () => {
    expect(() =>
      imageDefaultsFrom(config({ Env: Array.from({ length: 600 }, (_, i) => `V${i}=x`) }), {}),
    ).toThrow(/image\.config\.Env: must have at most 512 entries/);
    expect(() => applyImageDefaults({}, imageDefaultsFrom(config({}), {}))).toThrow(
      /args: the image names no Entrypoint or Cmd/,
    );
  });
});

describe('images in the policy and the pipeline file', () => {
  it('allows no registry and no layout folder by default', () => {
    const { images } = parsePolicy({});
    expect(images).toMatchObject({ registries: [], layouts: [], plainHttp: [], tagTtl: 0 });
  });

  it('refuses a registry prefix without a full host', () => {
    expect(() => parsePolicy({ images: { registries: ['team'] } })).toThrow(
      /policy\.images\.registries\[0\]: must name the registry host in full/,
    );
  });

  it('lets a step with an image leave out args, and refuses image with rootfs', () => {
    const ok = parsePipeline(
      JSON.stringify({ name: 'p', defaults: { image: 'registry.example/t/tool:1' }, steps: [{ name: 'a' }] }),
      { format: 'json' },
    );
    expect(ok.steps[0]?.args).toBeUndefined();
    expect(() =>
      parsePipeline(JSON.stringify({ name: 'p', steps: [{ name: 'a' }] }), { format: 'json' }),
    ).toThrow(/steps\[0\]\.args[^:]*: is required/);
    expect(() =>
      parsePipeline(
        JSON.stringify({
          name: 'p',
          steps: [{ name: 'a', image: 'registry.example/t/tool:1', rootfs: '/srv/r', args: ['x'] }],
        }),
        { format: 'json' },
      ),
    ).toThrow(/steps\[0\]\.image[^:]*: give image or rootfs, not both/);
    expect(() =>
      parsePipeline(JSON.stringify({ name: 'p', steps: [{ name: 'a', image: 'busybox', args: ['x'] }] }), {
        format: 'json',
      }),
    ).toThrow(/steps\[0\]\.image[^:]*: "busybox" does not name its registry/);
  });
});

describe('a writable root', () => {
  it('puts runsc’s memory overlay last, after any extra flag that would turn it off', () => {
    const args = globalArgs({ rootOverlay: 'memory', extraArgs: ['--overlay2=none'] });
    expect(args.at(-1)).toBe('--overlay2=root:memory');
    expect(() => globalArgs({ command: 'runc', rootOverlay: 'memory' })).toThrow(
      /rootOverlay: is a runsc setting/,
    );
  });

  it('makes the bundle’s root writable only when asked', () => {
    const spec = parseBundleSpec({ rootfs: '/srv/rootfs', args: ['/bin/true'] });
    expect(toOciConfig(spec).root.readonly).toBe(true);
    expect(toOciConfig({ ...spec, writableRoot: true }).root.readonly).toBe(false);
  });
});
