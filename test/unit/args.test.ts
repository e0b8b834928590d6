import { describe, expect, it } from 'vitest';
import {
  createArgs,
  deleteArgs,
  flavorOf,
  globalArgs,
  killArgs,
  listArgs,
  normaliseSignal,
  runArgs,
} from '../../src/runtime/args.js';
import { InvalidRuntimeInput } from '../../src/runtime/errors.js';

describe('global arguments', () => {
  it('turns runsc settings into flags before the subcommand', () => {
    expect(
      globalArgs({
        root: '/run/x',
        platform: 'ptrace',
        network: 'none',
        debugLog: '/tmp/d/',
        logFile: '/tmp/l.json',
        extraArgs: ['--overlay'],
      }),
    ).toEqual([
      '--root=/run/x',
      '--platform=ptrace',
      '--network=none',
      '--debug',
      '--debug-log=/tmp/d/',
      '--log=/tmp/l.json',
      '--log-format=json',
      '--overlay',
    ]);
  });

  it('lets one call use its own log file', () => {
    expect(globalArgs({ logFile: '/a' }, '/b')).toEqual(['--log=/b', '--log-format=json']);
  });

  it('refuses runsc-only settings for runc and crun, naming the field', () => {
    expect(() => globalArgs({ command: '/usr/sbin/runc', platform: 'ptrace' })).toThrow(
      /platform: is a runsc setting/,
    );
    expect(() => globalArgs({ command: 'crun', network: 'none' })).toThrow(InvalidRuntimeInput);
  });

  it('guesses the flavor from the binary name', () => {
    expect(flavorOf({})).toBe('runsc');
    expect(flavorOf({ command: '/usr/bin/runsc' })).toBe('runsc');
    expect(flavorOf({ command: '/usr/sbin/runc' })).toBe('runc');
    expect(flavorOf({ command: 'crun' })).toBe('crun');
    expect(flavorOf({ command: '/opt/wrapper', flavor: 'runc' })).toBe('runc');
  });
});

describe('subcommand arguments', () => {
  it('run names the bundle and the id', () => {
    expect(runArgs('job-1', '/b')).toEqual(['run', '--bundle', '/b', 'job-1']);
    expect(runArgs('job-1', '/b', { detach: true })).toEqual(['run', '--detach', '--bundle', '/b', 'job-1']);
  });

  it('refuses a relative bundle path', () => {
    expect(() => runArgs('job-1', 'bundle')).toThrow(/bundle: "bundle" must be an absolute path/);
  });

  it('create takes a pid file', () => {
    expect(createArgs('c', '/b', { pidFile: '/p' })).toEqual([
      'create',
      '--bundle',
      '/b',
      '--pid-file',
      '/p',
      'c',
    ]);
  });

  it('kill normalises the signal and can reach every process', () => {
    expect(killArgs('c', 'SIGTERM')).toEqual(['kill', 'c', 'TERM']);
    expect(killArgs('c', 9, { all: true })).toEqual(['kill', '--all', 'c', '9']);
  });

  it('delete can force', () => {
    expect(deleteArgs('c', { force: true })).toEqual(['delete', '--force', 'c']);
  });

  it('list asks for JSON', () => {
    expect(listArgs()).toEqual(['list', '--format=json']);
  });

  it('signals are names or numbers, nothing else', () => {
    expect(normaliseSignal('kill')).toBe('KILL');
    expect(() => normaliseSignal(0)).toThrow(/signal/);
    expect(() => normaliseSignal('TERM; rm -rf /')).toThrow(/signal/);
  });
});
