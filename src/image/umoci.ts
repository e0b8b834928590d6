/**
 * umoci (Debian's package): unpacks an image of an OCI layout into a root filesystem. It does
 * the layer work this library must not hand-write: whiteouts and opaque folders, hard links,
 * ownership, xattrs, and paths kept inside the root (no link in a layer leads it outside).
 */
import { runTool } from './tool.js';

export interface UmociOptions {
  /** Path or name of the binary. Default `umoci`. */
  command?: string;
}

export class Umoci {
  readonly command: string;
  constructor(options: UmociOptions = {}) {
    this.command = options.command ?? 'umoci';
  }

  /**
   * `umoci unpack --image <layout>:<tag> <bundle>`: makes `<bundle>/rootfs` (and umoci's own
   * config.json, which resolves the image's User against the image's own /etc/passwd).
   */
  async unpack(
    layoutDir: string,
    tag: string,
    bundleDir: string,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<void> {
    await runTool(this.command, ['unpack', '--image', `${layoutDir}:${tag}`, bundleDir], options);
  }
}
