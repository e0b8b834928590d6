/**
 * The worker's secret store: one file per secret in a folder its operator keeps (the secret's
 * name is the file's name). Values are read on the worker's host only, at the moment a step
 * needs them, and never leave it except as the step's environment. Every read is defensive:
 * the worker runs as root, so a link, a FIFO, a device or a huge file must not make it read
 * something else, block, or run out of memory.
 */
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { secretNamePattern } from '../bundle/spec.js';

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
    if ((info.mode & 0o007) !== 0 || (info.mode & 0o020) !== 0) {
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
    // O_NOFOLLOW: a link is refused, not followed; O_NONBLOCK: a FIFO cannot stall the open.
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
      (error: NodeJS.ErrnoException) => {
        throw new SecretError(
          error.code === 'ENOENT'
            ? `secret ${name} is not in the worker's store (${this.dir}): ask the operator to add it`
            : `secret ${name} cannot be read from the worker's store (${error.code}): it must be a regular file`,
        );
      },
    );
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new SecretError(`secret ${name} is not a regular file in the worker's store`);
      if (info.size > secretMaxBytes) {
        throw new SecretError(`secret ${name} is ${info.size} bytes; the limit is ${secretMaxBytes}`);
      }
      // Read at most the cap plus one byte: a file that grows meanwhile cannot make us read more.
      const buffer = Buffer.alloc(secretMaxBytes + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > secretMaxBytes)
        throw new SecretError(`secret ${name} is larger than ${secretMaxBytes} bytes`);
      return buffer
        .subarray(0, bytesRead)
        .toString('utf8')
        .replace(/\r?\n$/, '');
    } finally {
      await handle.close();
    }
  }
}
