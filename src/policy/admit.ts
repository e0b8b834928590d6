/**
 * Admission: the one place where a step's input meets the operator's policy. Everything a step
 * asks for that touches the host (rootfs, bind mounts, user, limits, network, secrets) is
 * checked here, on the worker, before anything is created; a refusal names the field and the
 * rule. What comes out is what the bundle is built from: no field of the input reaches the
 * bundle without passing through here.
 */
import { lstat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { RunContainerInput } from '../../activities/types.js';
import { type Mount, pidsLimitProblem } from '../bundle/spec.js';
import { type ImageReference, parseImageReference, repositoryAllowedBy } from '../image/reference.js';
import { Runsc } from '../runtime/runsc.js';
import { runtimePlatform } from '../runtime/version.js';
import { SecretError, SecretStore } from '../secrets/store.js';
import { type FieldProblem, ValidationError } from '../validation.js';
import {
  alwaysProtected,
  exposes,
  isWithin,
  realPathOf,
  realPaths,
  realPathsOfMaybeMissing,
} from './paths.js';
import type { NetworkMode, SandboxPolicy } from './schema.js';

/** What a step may run with, once admitted. */
export interface Admitted {
  /** The bundle fields that touch the host, as the policy allows them (mounts: real paths). */
  bundle: {
    rootfs: string;
    mounts: Mount[];
    user: { uid: number; gid: number };
    limits: { memoryBytes: number; pids: number; cpus: number };
    tmpfsBytes: number;
    /** The step's environment with its secrets resolved: goes into the bundle and nowhere else. */
    env: Record<string, string>;
    /** Set under runc and crun: the hardening their steps need (see src/bundle/oci.ts). */
    hostKernel?: Record<string, never>;
    /** runsc: the root is writable, into runsc's memory overlay (the runtime client sets it). */
    writableRoot: boolean;
  };
  /** The size the step's /out may reach (the attempt workspace caps it). */
  outBytes: number;
  /** How long the run may last: past it, the activity aborts it. */
  timeoutMs: number;
  network: NetworkMode;
  /** Secret values, for masking in tails and logs. Never to be logged or returned. */
  maskValues: string[];
  /** The runtime client to run this step with (its network mode set per run). */
  runtime: Runsc;
  /**
   * What each of `bundle.mounts` was at admission (same order): the attempt workspace pins the
   * source to exactly this file or folder (src/workspace/pinned-mounts.ts), because runsc would
   * resolve the path again, later, and a link swapped in meanwhile would be followed.
   */
  mountSources: AdmittedSource[];
  /**
   * The step's image, when it names one (`bundle.rootfs` is then a placeholder: the activity
   * puts the image's unpacked root there). `localPath`: the real path of a local layout or archive.
   */
  image?: { ref: ImageReference; localPath?: string };
}

/** A bind-mount source as admitted: its real path and the identity (lstat) it had then. */
export interface AdmittedSource {
  /** `mounts[i].source`, for refusals. */
  field: string;
  real: string;
  /** bigint: an inode number may not fit a double on every file system. */
  dev: bigint;
  ino: bigint;
  kind: 'folder' | 'file';
  readOnly: boolean;
}

export interface PolicyGateOptions {
  policy: SandboxPolicy;
  runtime: Runsc;
  /** The worker's own rootfs: always allowed, and the default. */
  rootfs: string;
  /** The worker's work dir (bundles, logs): never mountable unless named exactly. */
  workDir: string;
  /** Where start-up warnings go (an allowed folder holding a protected path); stderr by default. */
  warn?: (message: string) => void;
}

/** The rootfs of an admitted image step until its image is unpacked: not a folder. */
export const imageNotPrepared = '/.temporal-runsc-image-not-prepared';

/** Mount destinations a step may not cover: the sandbox's own and the worker's /out. */
const reservedDestinations = ['/proc', '/sys', '/dev'];

export class PolicyGate {
  readonly policy: SandboxPolicy;
  /** What the operator may not have meant (printed at start, kept for tests and status). */
  readonly warnings: string[];
  private readonly runtime: Runsc;
  private readonly runtimes = new Map<NetworkMode, Runsc>();
  private readonly secrets: SecretStore | undefined;

  private constructor(
    options: PolicyGateOptions,
    private readonly real: {
      rootfs: string[];
      layouts: string[];
      readOnly: string[];
      readWrite: string[];
      protectedPaths: { path: string; what: string }[];
    },
    warnings: string[],
  ) {
    this.policy = options.policy;
    this.warnings = warnings;
    this.runtime = options.runtime;
    this.secrets = options.policy.secrets.dir ? new SecretStore(options.policy.secrets.dir) : undefined;
  }

  /**
   * Resolves the policy's paths once. Refuses a weak runtime (runc, crun) unless the operator
   * opted in, and a secret store that is not safe: a worker misconfigured so must not start.
   */
  static async create(options: PolicyGateOptions): Promise<PolicyGate> {
    const { policy, runtime } = options;
    checkRuntimeAllowed(runtime, policy);
    await checkPidsFloor(runtime, policy);
    if (policy.secrets.dir) await new SecretStore(policy.secrets.dir).checkDir();
    const ownRootfs = (await realPathOf(options.rootfs)) ?? posix.normalize(options.rootfs);
    const named: [string, string][] = [
      ...alwaysProtected.map((path): [string, string] => [path, 'a host system path']),
      [options.workDir, "the worker's work dir, with other attempts' bundles and logs"],
      [runtime.stateRoot, "the runtime's state root"],
      ...(policy.secrets.dir ? [[policy.secrets.dir, 'the secret store'] as [string, string]] : []),
    ];
    // A protected path that does not exist yet (a state root made at first run) is resolved
    // through its nearest existing parent, so a link in its parents does not hide it.
    const real = await realPathsOfMaybeMissing(named.map(([path]) => path));
    const protectedPaths = named.map(([, what], i) => ({ path: real[i] as string, what }));
    const readOnly = await realPaths(policy.mounts.readOnly);
    const readWrite = await realPaths(policy.mounts.readWrite);
    const warnings = exposureWarnings(
      [
        ...policy.mounts.readOnly.map((p, i) => ({
          rule: 'policy.mounts.readOnly',
          named: p,
          real: readOnly[i] as string,
        })),
        ...policy.mounts.readWrite.map((p, i) => ({
          rule: 'policy.mounts.readWrite',
          named: p,
          real: readWrite[i] as string,
        })),
      ],
      protectedPaths,
    );
    const warn = options.warn ?? ((message: string) => console.error(`temporal-runsc: warning: ${message}`));
    for (const warning of warnings) warn(warning);
    return new PolicyGate(
      options,
      {
        rootfs: [ownRootfs, ...(await realPaths(policy.rootfs))],
        layouts: await realPaths(policy.images.layouts),
        readOnly,
        readWrite,
        protectedPaths,
      },
      warnings,
    );
  }

  /**
   * Checks a step against the policy and resolves what it may run with. `startToCloseTimeoutMs`
   * is the activity's own timeout, which may not exceed the policy's maximum.
   */
  async admit(input: RunContainerInput, info: { startToCloseTimeoutMs?: number } = {}): Promise<Admitted> {
    const problems: FieldProblem[] = [];
    const refuse = (field: string, message: string) => problems.push({ field, message });
    const { policy } = this;

    const rootfs = await this.admitRootfs(input, refuse);
    const image = await this.admitImage(input, refuse);
    const { mounts, sources: mountSources } = await this.admitMounts(input, refuse);

    const user = input.user ?? policy.user.default;
    for (const problem of this.userProblems(user, 'user')) refuse(problem.field, problem.message);

    const { default: defaults, max } = policy.limits;
    const asked = { ...input.limits, tmpfsBytes: input.tmpfsBytes };
    for (const key of ['memoryBytes', 'pids', 'cpus', 'tmpfsBytes'] as const) {
      const value = asked[key];
      if (value !== undefined && value > max[key]) {
        const field = key === 'tmpfsBytes' ? 'tmpfsBytes' : `limits.${key}`;
        refuse(
          field,
          `${value} is above the operator's maximum (policy.limits.max.${key}: ${max[key]}); ask for less`,
        );
      }
    }
    if (info.startToCloseTimeoutMs !== undefined && info.startToCloseTimeoutMs > max.timeout) {
      refuse(
        'timeout',
        `${info.startToCloseTimeoutMs} ms is above the operator's maximum (policy.limits.max.timeout: ${max.timeout} ms); ask for less`,
      );
    }

    const network = input.network ?? 'none';
    if (!policy.network.includes(network)) {
      refuse(
        'network',
        `${network} is not allowed on this worker (policy.network: ${policy.network.join(', ')}); ask the operator to allow it`,
      );
    } else if (network !== 'none' && this.runtime.flavor !== 'runsc') {
      refuse('network', `${network} needs runsc; ${this.runtime.flavor} steps have no network`);
    }

    const { env, maskValues } = await this.admitSecrets(input, refuse);
    if (problems.length > 0) throw new ValidationError('step', problems);
    return {
      bundle: {
        // An image's root is put here by the activity once fetched (activities/image-step.ts);
        // until then no folder: a bundle made without it fails instead of running the default.
        rootfs: image ? imageNotPrepared : rootfs,
        mounts,
        user,
        limits: {
          memoryBytes: input.limits?.memoryBytes ?? defaults.memoryBytes,
          pids: input.limits?.pids ?? defaults.pids,
          cpus: input.limits?.cpus ?? defaults.cpus,
        },
        tmpfsBytes: input.tmpfsBytes ?? defaults.tmpfsBytes,
        env,
        // runsc writes into its overlay (runtimeFor sets it), never into the shared folder.
        writableRoot: this.runtime.flavor === 'runsc',
        ...(this.runtime.flavor === 'runsc' ? {} : { hostKernel: {} }),
      },
      outBytes: defaults.outBytes,
      timeoutMs: max.timeout,
      network,
      maskValues,
      runtime: this.runtimeFor(network),
      mountSources,
      ...(image ? { image } : {}),
    };
  }

  /**
   * A user against the policy's ranges. `field` names where it came from: `user` (the step's),
   * or `image.config.User` (an image's default, which is untrusted input like a step's own).
   */
  userProblems(user: { uid: number; gid: number }, field: string): FieldProblem[] {
    const { policy } = this;
    const problems: FieldProblem[] = [];
    const inRange = (value: number, [low, high]: readonly [number, number]) => value >= low && value <= high;
    if (!inRange(user.uid, policy.user.uids)) {
      problems.push({
        field: field === 'user' ? 'user.uid' : field,
        message: `${user.uid} is outside the allowed uids (policy.user.uids: ${policy.user.uids.join('-')}); ask the operator to allow it${field === 'user' ? '' : ', or give the step a user'}`,
      });
    }
    if (!inRange(user.gid, policy.user.gids)) {
      problems.push({
        field: field === 'user' ? 'user.gid' : field,
        message: `gid ${user.gid} is outside the allowed gids (policy.user.gids: ${policy.user.gids.join('-')}); ask the operator to allow it${field === 'user' ? '' : ', or give the step a user'}`,
      });
    }
    return problems;
  }

  /**
   * The image reference against the policy: a registry reference must be below one of
   * `policy.images.registries`, a local layout or archive below one of `policy.images.layouts`
   * (by real path). Nothing is fetched here.
   */
  private async admitImage(
    input: RunContainerInput,
    refuse: (f: string, m: string) => void,
  ): Promise<Admitted['image']> {
    if (input.image === undefined) return undefined;
    if (input.rootfs !== undefined) {
      refuse('image', 'give image or rootfs, not both');
      return undefined;
    }
    const ref = parseImageReference(input.image);
    if ('problem' in ref) {
      refuse('image', ref.problem);
      return undefined;
    }
    const { images } = this.policy;
    if (ref.kind === 'registry') {
      if (!images.registries.some((prefix) => repositoryAllowedBy(ref.repository, prefix))) {
        refuse(
          'image',
          `${ref.repository} is not in an allowed registry (policy.images.registries: ${images.registries.length ? images.registries.join(', ') : 'none'}); ask the operator to allow it`,
        );
        return undefined;
      }
      return { ref };
    }
    const real = await realPathOf(ref.path);
    if (real === undefined) {
      refuse('image', `${ref.path} does not exist on this host: fix the path`);
      return undefined;
    }
    if (!this.real.layouts.some((allowed) => isWithin(real, allowed))) {
      refuse(
        'image',
        `${ref.path}${real !== ref.path ? ` (really ${real})` : ''} is not under an allowed image folder (policy.images.layouts: ${images.layouts.length ? images.layouts.join(', ') : 'none'}); ask the operator to allow it`,
      );
      return undefined;
    }
    return { ref, localPath: real };
  }

  private async admitRootfs(
    input: RunContainerInput,
    refuse: (f: string, m: string) => void,
  ): Promise<string> {
    const [own] = this.real.rootfs as [string];
    if (input.rootfs === undefined) return own;
    const real = await realPathOf(input.rootfs);
    if (real === undefined) {
      refuse(
        'rootfs',
        `${input.rootfs} does not exist on this host: fix the path, or leave rootfs out for the worker's own`,
      );
      return own;
    }
    if (!this.real.rootfs.includes(real)) {
      const allowed = this.policy.rootfs.length ? this.policy.rootfs.join(', ') : 'none';
      refuse(
        'rootfs',
        `${input.rootfs} is not an allowed root filesystem (policy.rootfs: ${allowed}; the worker's own is always allowed); ask the operator to allow it`,
      );
    }
    return real;
  }

  private async admitMounts(
    input: RunContainerInput,
    refuse: (f: string, m: string) => void,
  ): Promise<{ mounts: Mount[]; sources: AdmittedSource[] }> {
    const mounts: Mount[] = [];
    const sources: AdmittedSource[] = [];
    for (const [index, mount] of (input.mounts ?? []).entries()) {
      const field = `mounts[${index}]`;
      const readOnly = mount.readOnly ?? true;
      const destination = posix.normalize(mount.destination);
      if (
        destination === '/' ||
        destination === '/out' ||
        reservedDestinations.some((d) => isWithin(destination, d))
      ) {
        refuse(
          `${field}.destination`,
          `${mount.destination} is the sandbox's own: mount somewhere else, e.g. /data`,
        );
      }
      const real = await realPathOf(mount.source);
      if (real === undefined) {
        refuse(`${field}.source`, `${mount.source} does not exist on this host: create it or fix the path`);
        continue;
      }
      const kind = readOnly ? 'read-only' : 'read-write';
      const list = readOnly ? [...this.real.readOnly, ...this.real.readWrite] : this.real.readWrite;
      const named = readOnly
        ? [...this.policy.mounts.readOnly, ...this.policy.mounts.readWrite]
        : this.policy.mounts.readWrite;
      const rule = readOnly ? 'policy.mounts.readOnly' : 'policy.mounts.readWrite';
      const match = list.find((allowed) => isWithin(real, allowed));
      if (match === undefined) {
        refuse(
          `${field}.source`,
          `${mount.source}${real !== mount.source ? ` (really ${real})` : ''} is not under an allowed ${kind} path (${rule}: ${named.length ? named.join(', ') : 'none'}); ask the operator to allow it`,
        );
        continue;
      }
      // A protected path (the work dir, the state root, the secret store, a system path) is
      // exposed by a source that holds it, equals it, or lies inside it. Allowing a parent
      // folder is not consent to that: only the operator naming this exact source path is.
      const guarded = this.real.protectedPaths.find((p) => exposes(real, p.path));
      // (Any allowed entry equal to it, not the first that holds it: `/` and `/srv` both allowed,
      // `/srv` is still named exactly.)
      if (guarded !== undefined && !list.includes(real)) {
        const how = real === guarded.path ? 'is' : isWithin(real, guarded.path) ? 'is inside' : 'holds';
        refuse(
          `${field}.source`,
          `${mount.source}${real !== mount.source ? ` (really ${real})` : ''} ${how} ${guarded.path} (${guarded.what}), which a step may mount only when the operator names that exact source path in ${rule}; mount a folder beside it, or ask the operator to name ${real}`,
        );
        continue;
      }
      // Its identity now: the workspace pins the source to this very file or folder.
      const info = await lstat(real, { bigint: true }).catch(() => undefined);
      if (!info || !(info.isDirectory() || info.isFile())) {
        refuse(
          `${field}.source`,
          `${mount.source} is ${info ? 'not a folder or a regular file' : 'gone'}: mount a folder or a file`,
        );
        continue;
      }
      mounts.push({ source: real, destination, readOnly });
      sources.push({
        field: `${field}.source`,
        real,
        dev: info.dev,
        ino: info.ino,
        kind: info.isDirectory() ? 'folder' : 'file',
        readOnly,
      });
    }
    return { mounts, sources };
  }

  private async admitSecrets(
    input: RunContainerInput,
    refuse: (f: string, m: string) => void,
  ): Promise<{ env: Record<string, string>; maskValues: string[] }> {
    const env = { ...input.env };
    const maskValues: string[] = [];
    const wanted = secretVariables(input.secrets);
    if (wanted.length === 0) return { env, maskValues };
    // runsc's debug log records the spec it runs, env included: a value would be written there.
    if (this.runtime.options.debugLog) {
      refuse(
        'secrets',
        `the worker's runtime debug log would record them (${this.runtime.options.debugLog}): run steps that name secrets on a worker whose runtime has no debugLog`,
      );
      return { env, maskValues };
    }
    const { allow } = this.policy.secrets;
    for (const [variable, name] of wanted) {
      const field = `secrets.${variable}`;
      if (!this.secrets) {
        refuse(field, `this worker has no secret store (policy.secrets.dir): ask the operator to set one up`);
        continue;
      }
      if (allow !== 'all' && !allow.includes(name)) {
        refuse(
          field,
          `secret ${name} is not allowed on this worker (policy.secrets.allow); ask the operator to allow it`,
        );
        continue;
      }
      if (variable in env) {
        refuse(field, `${variable} is also set in env: give it in one place`);
        continue;
      }
      try {
        const value = await this.secrets.read(name);
        env[variable] = value;
        if (value.length > 0) maskValues.push(value);
      } catch (error) {
        if (error instanceof SecretError) refuse(field, error.message);
        else throw error;
      }
    }
    return { env, maskValues };
  }

  /**
   * runsc's network mode is a global flag: one client per mode, sharing the root; each puts its
   * memory overlay over the step's root (the bundle's writableRoot relies on it).
   */
  private runtimeFor(network: NetworkMode): Runsc {
    if (this.runtime.flavor !== 'runsc') return this.runtime;
    let runtime = this.runtimes.get(network);
    if (!runtime) {
      runtime = new Runsc({ ...this.runtime.options, network, rootOverlay: 'memory' });
      this.runtimes.set(network, runtime);
    }
    return runtime;
  }
}

/** runc and crun share the host's kernel: refused unless the operator opted in. */
export function checkRuntimeAllowed(runtime: Pick<Runsc, 'flavor'>, policy: SandboxPolicy): void {
  if (runtime.flavor === 'runsc' || policy.allowWeakRuntime) return;
  throw new ValidationError('sandbox policy', [
    {
      field: 'policy.allowWeakRuntime',
      message: `${runtime.flavor} runs steps on the host's kernel with only namespaces, a seccomp filter and cgroups between them and the host; steps run under it only when the operator sets allowWeakRuntime: true (--allow-weak-runtime)`,
    },
  ]);
}

/**
 * The policy's pids values against this worker's own platform floor (ptrace needs more than
 * systrap): a default below it would refuse every step, a maximum below it every step that asks.
 * The schema knows only the lowest floor. A runtime whose version cannot be read is left to the
 * per-step check (run-container), which fails with its own message.
 */
async function checkPidsFloor(runtime: Runsc, policy: SandboxPolicy): Promise<void> {
  const platform = await runtimePlatform(runtime).catch(() => null);
  if (platform === null) return;
  const problems: FieldProblem[] = [];
  for (const key of ['default', 'max'] as const) {
    const problem = pidsLimitProblem(policy.limits[key].pids, platform);
    if (problem)
      problems.push({ field: `policy.limits.${key}.pids`, message: `${problem}; raise it in the policy` });
  }
  if (problems.length > 0) throw new ValidationError('sandbox policy', problems);
}

/** An allowed folder that holds a protected path: steps still may not mount that path, but say so. */
function exposureWarnings(
  allowed: { rule: string; named: string; real: string }[],
  protectedPaths: { path: string; what: string }[],
): string[] {
  const warnings: string[] = [];
  for (const entry of allowed) {
    for (const guarded of protectedPaths) {
      if (guarded.path === '/' || !isWithin(guarded.path, entry.real)) continue;
      warnings.push(
        `${entry.rule} allows ${entry.named}${entry.real !== entry.named ? ` (really ${entry.real})` : ''}, which holds ${guarded.path} (${guarded.what})${
          entry.real === guarded.path
            ? ''
            : `: steps may mount ${entry.named} itself, and with it ${guarded.path}`
        }; allow a folder beside it instead`,
      );
    }
  }
  return warnings;
}

/** `[NAME]` or `{ VAR: NAME }` as pairs of environment variable and secret name. */
export function secretVariables(secrets: RunContainerInput['secrets']): [string, string][] {
  if (!secrets) return [];
  if (Array.isArray(secrets)) return secrets.map((name) => [name, name]);
  return Object.entries(secrets);
}
