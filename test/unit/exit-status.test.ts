import { describe, expect, it } from 'vitest';
import {
  ContainerExists,
  ContainerNotFound,
  classifyRuntimeFailure,
  RuntimeError,
} from '../../src/runtime/errors.js';
import { runtimeErrorsFromLog, sandboxPanic, toExitStatus } from '../../src/runtime/exit-status.js';

describe('exit status', () => {
  it('passes a plain exit code through', () => {
    expect(toExitStatus({ exitCode: 7 }, [])).toEqual({ exitCode: 7 });
  });

  it('names the signal of a code above 128', () => {
    expect(toExitStatus({ exitCode: 137 }, [])).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    expect(toExitStatus({ exitCode: 143 }, [])).toEqual({ exitCode: 143, signal: 'SIGTERM' });
  });

  it('gives 128+N when the runtime itself was killed by signal N', () => {
    expect(toExitStatus({ signal: 'SIGKILL' }, [])).toEqual({ exitCode: 137, signal: 'SIGKILL' });
  });

  it('marks a runtime failure when the runtime logged an error', () => {
    expect(toExitStatus({ exitCode: 128 }, ['first', 'creating process: failed to load /bin/x'])).toEqual({
      exitCode: 128,
      runtimeError: 'creating process: failed to load /bin/x',
    });
  });

  it('leaves a step that exits 128 alone', () => {
    expect(toExitStatus({ exitCode: 128 }, [])).toEqual({ exitCode: 128 });
  });
});

describe('runtime log', () => {
  it('reads error entries that runsc writes back to back without newlines', () => {
    const text =
      '{"msg":"starting","level":"info","time":"t"}{"msg":"loading container: file does not exist","level":"error","time":"t"}\n{"msg":"x","level":"warning"}';
    expect(runtimeErrorsFromLog(text)).toEqual(['loading container: file does not exist']);
  });

  it('ignores a line cut short by a killed runtime', () => {
    expect(runtimeErrorsFromLog('{"msg":"ok","level":"error"}\n{"msg":"cut')).toEqual(['ok']);
  });
});

describe('runtime failures', () => {
  const details = (stderr: string) => ({ command: ['runsc', 'state', 'x'], stderr });

  it('tells taken ids, unknown ids and other failures apart', () => {
    expect(
      classifyRuntimeFailure('m', details('cannot lock container metadata file: container already exists')),
    ).toBeInstanceOf(ContainerExists);
    expect(classifyRuntimeFailure('m', details('loading container: file does not exist'))).toBeInstanceOf(
      ContainerNotFound,
    );
    expect(classifyRuntimeFailure('m', details('container "x" does not exist'))).toBeInstanceOf(
      ContainerNotFound,
    );
    const other = classifyRuntimeFailure('m', details('permission denied'));
    expect(other).toBeInstanceOf(RuntimeError);
    expect(other).not.toBeInstanceOf(ContainerNotFound);
    expect(other.command).toEqual(['runsc', 'state', 'x']);
    expect(other.stderr).toBe('permission denied');
  });
});

describe('sandbox panic log', () => {
  it('says nothing for the empty log of a healthy run', () => {
    expect(sandboxPanic('')).toBeUndefined();
    expect(sandboxPanic('\n\n')).toBeUndefined();
  });

  it('names a Go panic by its headline, not the goroutine dump', () => {
    const text =
      'goroutine 1 [running]:\npanic: error initializing first thread: resource temporarily unavailable\n\nmain.main()';
    expect(sandboxPanic(text)).toBe(
      'sandbox crashed: panic: error initializing first thread: resource temporarily unavailable',
    );
  });

  it('names a Go runtime fatal error (threads exhausted by a fork storm)', () => {
    const text = 'runtime: failed to create new OS thread\nfatal error: newosproc\n\nruntime stack:';
    expect(sandboxPanic(text)).toBe('sandbox crashed: fatal error: newosproc');
  });

  it('treats any other text as a crash too, quoting its first line', () => {
    expect(sandboxPanic('\nSIGSEGV: segmentation violation\nPC=0x0')).toBe(
      'sandbox crashed: SIGSEGV: segmentation violation',
    );
  });
});
