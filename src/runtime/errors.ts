/**
 * Typed failures of the container runtime. Each carries the command line that failed and the
 * runtime's own words (stderr, or its JSON log), so an operator can read what happened from
 * the error alone.
 */
export interface RuntimeFailureDetails {
  /** The command line as an array: binary first, then every argument. */
  command: readonly string[];
  exitCode?: number;
  stderr?: string;
  cause?: unknown;
}

export class RuntimeError extends Error {
  override name = 'RuntimeError';
  readonly command: readonly string[];
  readonly exitCode?: number;
  readonly stderr: string;

  constructor(message: string, details: RuntimeFailureDetails) {
    super(message, { cause: details.cause });
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr ?? '';
  }
}

/** The runtime binary could not be started: not installed, or not on PATH. */
export class RuntimeNotFound extends RuntimeError {
  override name = 'RuntimeNotFound';
}

/** The id is taken: a container (perhaps one left `stopped`) already holds it. */
export class ContainerExists extends RuntimeError {
  override name = 'ContainerExists';
}

/** The runtime has no container with that id in this root. */
export class ContainerNotFound extends RuntimeError {
  override name = 'ContainerNotFound';
}

/** The runtime did not answer before its deadline (for example `list` blocked on a held lock). */
export class RuntimeTimeout extends RuntimeError {
  override name = 'RuntimeTimeout';
}

/** Invalid input to the runtime client: names the field and what to do instead. */
export class InvalidRuntimeInput extends Error {
  override name = 'InvalidRuntimeInput';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const alreadyExists = /container already exists|already exists/i;
const notFound =
  /loading container: file does not exist|container .*does not exist|does not exist|not found|no such container/i;

/** Chooses the error class that fits what the runtime printed when a call failed. */
export function classifyRuntimeFailure(message: string, details: RuntimeFailureDetails): RuntimeError {
  const text = details.stderr ?? '';
  if (alreadyExists.test(text)) return new ContainerExists(message, details);
  if (notFound.test(text)) return new ContainerNotFound(message, details);
  return new RuntimeError(message, details);
}

/**
 * A folder cleanup will not treat as a runtime state directory (`/`, `.`, a home folder, one that
 * holds other files): nothing in it was read or removed.
 */
export class UnsafeStateRoot extends Error {
  override name = 'UnsafeStateRoot';
  constructor(
    readonly root: string,
    readonly reason: string,
  ) {
    super(`root ${JSON.stringify(root)} ${reason}`);
  }
}
