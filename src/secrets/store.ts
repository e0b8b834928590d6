/**
 * The worker's secret store: one file per secret in a folder its operator keeps (the secret's
 * name is the file's name). Values are read on the worker's host only, at the moment a step
 * needs them, and never leave it except as the step's environment. Every read is defensive:
 * the worker runs as root, so a link, a FIFO, a device or a huge file must not make it read
 * something else, block, or run out of memory.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { secretNamePattern } from '../bundle/spec.js';
import { RegularFileError, readRegularFile } from '../host/read-regular-file.js';

/** Largest secret value read. */
export const secretMaxBytes = 64 * 1024;

/** A secret could not be resolved. The message names the secret, never any of its content. */
export class SecretError extends Error {
  override name = 'SecretError';
}

export class SecretStore {
  constructor(readonly dir: string) {}

  /**
   * The folder must be a real folder (not a link), owned by root (or by this process's user),
   * and closed to others: nobody but its owner may have added or read a file in it.
   */
  async checkDir(): Promise<void> {
    const info = await lstat(this.dir).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw new SecretError(
        `the secret store ${this.dir} is not a folder (links are refused): create it, mode 0700`,
      );
    }
    const owner = process.getuid?.() ?? 0;
    if (info.uid !== 0 && info.uid !== owner) {
      throw new SecretError(`the secret store ${this.dir} is owned by uid ${info.uid}: chown it to root`);
    }
    if ((info.mode & 0o077) !== 0) {
      throw new SecretError(
        `the secret store ${this.dir} has mode ${(info.mode & 0o777).toString(8)}: others may read or add secrets; chmod 700 it`,
      );
    }
  }

  /** The value of one secret (one trailing newline removed, as `echo x > file` adds one). */
  async read(name: string): Promise<string> {
    if (!secretNamePattern.test(name)) {
      throw new SecretError(`${JSON.stringify(name)} is not a secret name: letters, digits and _`);
    }
    await this.checkDir();
    const path = join(this.dir, name);
    let read: Awaited<ReturnType<typeof readRegularFile>>;
    try {
      read = await readRegularFile(path, { maxBytes: secretMaxBytes });
    } catch (error) {
      throw new SecretError(storeProblem(name, this.dir, error));
    }
    // A value others could read has leaked already, or may: refused, so the operator fixes it.
    if ((read.stats.mode & 0o066) !== 0) {
      throw new SecretError(
        `secret ${name} has mode ${(read.stats.mode & 0o777).toString(8)}: group or others may read or change it; chmod 600 it`,
      );
    }
    return read.bytes.toString('utf8').replace(/\r?\n$/, '');
  }
}

/** A refused read, worded for the operator: names the secret, never any of its content. */
function storeProblem(name: string, dir: string, error: unknown): string {
  if (!(error instanceof RegularFileError)) throw error;
  const { problem } = error;
  switch (problem.kind) {
    case 'open':
      return problem.code === 'ENOENT'
        ? `secret ${name} is not in the worker's store (${dir}): ask the operator to add it`
        : `secret ${name} cannot be read from the worker's store (${problem.code}): it must be a regular file`;
    case 'not-regular':
      return `secret ${name} is not a regular file in the worker's store`;
    case 'too-big':
      return problem.size !== undefined
        ? `secret ${name} is ${problem.size} bytes; the limit is ${secretMaxBytes}`
        : `secret ${name} is larger than ${secretMaxBytes} bytes`;
    case 'read':
      return `secret ${name} cannot be read from the worker's store (${problem.code})`;
  }
}
