/**
 * skopeo (Debian's package): fetches images into a local OCI layout and reads their manifests
 * and configs. It does the format work (registries, auth files, mirrors in registries.conf,
 * digest checks, schema conversions); this class only names the calls.
 */
import { z } from 'zod';
import { ImageToolError, runTool } from './tool.js';

export interface SkopeoOptions {
  /** Path or name of the binary. Default `skopeo`. */
  command?: string;
  /**
   * Registry credentials: the operator's auth file. Default: skopeo's own search (the
   * containers auth file, then the Docker config of the user the worker runs as).
   */
  authFile?: string;
  /** Deadline of `inspect` calls. Default 60 s. */
  inspectTimeoutMs?: number;
}

export interface CallOptions {
  /** Talk plain HTTP / skip TLS checks (a registry the operator listed as such). */
  insecure?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** What `inspect` says of an image: its manifest digest and the size of its layers as stored. */
export interface InspectedImage {
  digest: string;
  /** Sum of the layers' (compressed) sizes, when the source states them. */
  layerBytes?: number;
}

const inspectSchema = z.object({
  Digest: z.string().regex(/^sha256:[a-f0-9]{64}$/),
  LayersData: z.array(z.object({ Size: z.number().nonnegative().optional() }).loose()).nullish(),
});

export class Skopeo {
  readonly command: string;
  constructor(readonly options: SkopeoOptions = {}) {
    this.command = options.command ?? 'skopeo';
  }

  /** The digest a reference resolves to now (a tag is read from the registry), and its size. */
  async inspect(source: string, options: CallOptions = {}): Promise<InspectedImage> {
    const out = await runTool(
      this.command,
      ['inspect', '--no-tags', ...this.auth(), ...tls('--tls-verify', options), source],
      {
        timeoutMs: options.timeoutMs ?? this.options.inspectTimeoutMs ?? 60_000,
        signal: options.signal,
        maxOutputBytes: 1024 * 1024,
      },
    );
    const parsed = inspectSchema.safeParse(safeJson(out));
    if (!parsed.success) {
      throw new ImageToolError(`skopeo inspect of ${source} gave no sha256 manifest digest`, {
        command: [this.command, 'inspect', source],
        reason: 'failed',
      });
    }
    const sizes = parsed.data.LayersData?.map((layer) => layer.Size);
    return {
      digest: parsed.data.Digest,
      ...(sizes?.every((s) => s !== undefined)
        ? { layerBytes: sizes.reduce((a: number, b) => a + (b ?? 0), 0) }
        : {}),
    };
  }

  /** Copies `source` into the OCI layout `layoutDir` under `tag` (the layout is created). */
  async copy(source: string, layoutDir: string, tag: string, options: CallOptions & { timeoutMs: number }) {
    await runTool(
      this.command,
      [
        'copy',
        '--quiet',
        ...this.auth(),
        ...tls('--src-tls-verify', options),
        // The image is unpacked, never signed or pushed again: no signatures are needed.
        '--remove-signatures',
        source,
        `oci:${layoutDir}:${tag}`,
      ],
      { timeoutMs: options.timeoutMs, signal: options.signal },
    );
  }

  /** The image config (Entrypoint, Cmd, Env, ...) of an image in a local OCI layout, as JSON text. */
  async config(layoutDir: string, tag: string, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    const out = await runTool(this.command, ['inspect', '--config', `oci:${layoutDir}:${tag}`], {
      timeoutMs: this.options.inspectTimeoutMs ?? 60_000,
      signal: options.signal,
      // An absurd config (a million env entries) is refused here, before it is parsed.
      maxOutputBytes: 1024 * 1024,
    });
    return safeJson(out);
  }

  private auth(): string[] {
    return this.options.authFile ? [`--authfile=${this.options.authFile}`] : [];
  }
}

function tls(flag: string, options: CallOptions): string[] {
  return options.insecure ? [`${flag}=false`] : [];
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
