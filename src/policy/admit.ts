/**
 * Admission: the one place where a step's input meets the operator's policy. Everything a step
 * asks for that touches the host (rootfs, bind mounts, user, limits, network, secrets) is
 * checked here, on the worker, before anything is created; a refusal names the field and the
 * rule. What comes out is what the bundle is built from: no field of the input reaches the
 * bundle without passing through here.
 */
import { posix } from 'node:path';
import type { RunContainerInput } from '../../activities/types.js';
import type { Mount } from '../bundle/spec.js';
import { Runsc } from '../runtime/runsc.js';
import { SecretError, SecretStore } from '../secrets/store.js';
import { type FieldProblem, ValidationError } from '../validation.js';
import { alwaysProtected, exposes, isWithin, realPathOf, realPaths } from './paths.js';
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
}

export interface PolicyGateOptions {
  policy: SandboxPolicy;
  runtime: Runsc;
  /** The worker's own rootfs: always allowed, and the default. */
  rootfs: string;
  /** The worker's work dir (bundles, logs): never mountable unless named exactly. */
  workDir: string;
}

/** Mount destinations a step may not cover: the sandbox's own and the worker's /out. */
const reservedDestinations = ['/proc', '/sys', '/dev'];

export class PolicyGate {
  readonly policy: SandboxPolicy;
  private readonly runtime: Runsc;
  private readonly runtimes = new Map<NetworkMode, Runsc>();
  private readonly secrets: SecretStore | undefined;

  private constructor(
    options: PolicyGateOptions,
    private readonly real: {
      rootfs: string[];
      readOnly: string[];
      readWrite: string[];
      protectedPaths: string[];
    },
  ) {
    this.policy = options.policy;
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
    if (policy.secrets.dir) await new SecretStore(policy.secrets.dir).checkDir();
    const ownRootfs = (await realPathOf(options.rootfs)) ?? posix.normalize(options.rootfs);
    const protectedPaths = await realPaths([
      ...alwaysProtected,
      options.workDir,
      runtime.stateRoot,
      ...(policy.secrets.dir ? [policy.secrets.dir] : []),
    ]);
    return new PolicyGate(options, {
      rootfs: [ownRootfs, ...(await realPaths(policy.rootfs))],
      readOnly: await realPaths(policy.mounts.readOnly),
      readWrite: await realPaths(policy.mounts.readWrite),
      protectedPaths,
    });
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
    const mounts = await this.admitMounts(input, refuse);

    const user = input.user ?? policy.user.default;
    const inRange = (value: number, [low, high]: readonly [number, number]) => value >= low && value <= high;
    if (!inRange(user.uid, policy.user.uids)) {
      refuse(
        'user.uid',
        `${user.uid} is outside the allowed uids (policy.user.uids: ${policy.user.uids.join('-')}); ask the operator to allow it`,
      );
    }
    if (!inRange(user.gid, policy.user.gids)) {
      refuse(
        'user.gid',
        `${user.gid} is outside the allowed gids (policy.user.gids: ${policy.user.gids.join('-')}); ask the operator to allow it`,
      );
    }

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
        rootfs,
        mounts,
        user,
        limits: {
          memoryBytes: input.limits?.memoryBytes ?? defaults.memoryBytes,
          pids: input.limits?.pids ?? defaults.pids,
          cpus: input.limits?.cpus ?? defaults.cpus,
        },
        tmpfsBytes: input.tmpfsBytes ?? defaults.tmpfsBytes,
        env,
        ...(this.runtime.flavor === 'runsc' ? {} : { hostKernel: {} }),
      },
      outBytes: defaults.outBytes,
      timeoutMs: max.timeout,
      network,
      maskValues,
      runtime: this.runtimeFor(network),
    };
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
  ): Promise<Mount[]> {
    const mounts: Mount[] = [];
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
      const guarded = this.real.protectedPaths.find((p) => exposes(real, p));
      if (guarded !== undefined && match !== real) {
        refuse(
          `${field}.source`,
          `${mount.source} ${real === guarded ? 'is' : isWithin(real, guarded) ? 'is inside' : 'holds'} ${guarded}, which only a path the operator names exactly in ${rule} may expose`,
        );
        continue;
      }
      mounts.push({ source: real, destination, readOnly });
    }
    return mounts;
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

  /** runsc's network mode is a global flag: one client per mode, sharing the root. */
  private runtimeFor(network: NetworkMode): Runsc {
    if (this.runtime.flavor !== 'runsc') return this.runtime;
    let runtime = this.runtimes.get(network);
    if (!runtime) {
      runtime = new Runsc({ ...this.runtime.options, network });
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

/** `[NAME]` or `{ VAR: NAME }` as pairs of environment variable and secret name. */
export function secretVariables(secrets: RunContainerInput['secrets']): [string, string][] {
  if (!secrets) return [];
  if (Array.isArray(secrets)) return secrets.map((name) => [name, name]);
  return Object.entries(secrets);
}
