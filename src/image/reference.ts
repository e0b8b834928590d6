/**
 * Image references as a step may name them, parsed strictly: a fully qualified registry
 * reference (`registry.example/team/tool:1.4`, `...@sha256:<hex>`), a local OCI layout
 * (`oci:/path[:tag]`), or an archive (`docker-archive:/path.tar`, `oci-archive:/path.tar`).
 * Pure (no disk, no network): used by the pipeline schema, the activity input and the policy.
 * The grammar is the distribution project's (docker/distribution `reference`), narrowed:
 * the registry must be named (no short names: `busybox` means different images on different
 * hosts), a tag or a digest must be given, and only sha256 digests are taken.
 */

/** A reference to an image in a registry. `repository` is `host[:port]/path`. */
export interface RegistryReference {
  kind: 'registry';
  /** The reference as written. */
  text: string;
  /** `host[:port]`: what the policy's plain-HTTP list names. */
  registry: string;
  /** `host[:port]/path`, without tag or digest: what the policy's prefixes are matched against. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>` when pinned. */
  digest?: string;
}

/** A local OCI layout folder, or an archive file, on the worker host. */
export interface LocalReference {
  kind: 'oci' | 'oci-archive' | 'docker-archive';
  text: string;
  /** Absolute path as written; admission resolves it (links) against the policy's folders. */
  path: string;
  /** For `oci:` only: the tag in the layout's index (`latest` when not given, as skopeo does). */
  tag?: string;
}

export type ImageReference = RegistryReference | LocalReference;

const maxReferenceLength = 512;
const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const label = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `${label}(?:\\.${label})*(?::[0-9]{1,5})?`;
const tagPattern = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
export const digestPattern = /^sha256:[a-f0-9]{64}$/;
const registryPattern = new RegExp(
  `^(${domain})/(${component}(?:/${component})*)(?::(${tagPattern}))?(?:@(sha256:[a-f0-9]{64}))?$`,
);
/** Host paths of local sources: plain characters only, so `:tag` splits without doubt. */
const localPath = /^\/[A-Za-z0-9._+@/-]*$/;
const tagOnly = new RegExp(`^${tagPattern}$`);

/** Why `text` is not an image reference this library takes (naming the fix), or the parsed one. */
export function parseImageReference(text: string): ImageReference | { problem: string } {
  if (typeof text !== 'string' || text.length === 0) {
    return { problem: 'must be an image reference, e.g. registry.example/team/tool:1.4' };
  }
  if (text.length > maxReferenceLength) {
    return { problem: `must be at most ${maxReferenceLength} characters` };
  }
  for (const kind of ['oci-archive', 'docker-archive', 'oci'] as const) {
    if (text.startsWith(`${kind}:`)) return parseLocal(kind, text);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return {
      problem: `give the reference without a transport (registry.example/team/tool:1.4, not docker://...); local images are oci:/path, oci-archive:/path.tar or docker-archive:/path.tar`,
    };
  }
  const match = registryPattern.exec(text);
  if (!match) {
    const firstPart = text.split('/')[0] ?? '';
    if (
      !text.includes('/') ||
      !(firstPart.includes('.') || firstPart.includes(':') || firstPart === 'localhost')
    ) {
      return {
        problem: `${JSON.stringify(text)} does not name its registry: write it in full, e.g. registry.example/team/tool:1.4 (short names mean different images on different hosts)`,
      };
    }
    return {
      problem: `${JSON.stringify(text)} is not an image reference: registry/path[:tag][@sha256:<64 hex>], with lower-case path components, e.g. registry.example/team/tool:1.4`,
    };
  }
  const [, registry, path, tag, digest] = match as unknown as [string, string, string, string?, string?];
  const host = registry.split(':')[0] ?? '';
  if (!(host.includes('.') || registry.includes(':') || host === 'localhost')) {
    return {
      problem: `${JSON.stringify(text)} does not name its registry (${registry} is read as a path): write it in full, e.g. registry.example/${text}`,
    };
  }
  if (tag === undefined && digest === undefined) {
    return {
      problem: `${JSON.stringify(text)} names no tag or digest: add one, e.g. ${text}:1.4 or ${text}@sha256:<digest>`,
    };
  }
  return {
    kind: 'registry',
    text,
    registry,
    repository: `${registry}/${path}`,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

function parseLocal(kind: LocalReference['kind'], text: string): LocalReference | { problem: string } {
  const rest = text.slice(kind.length + 1);
  const colon = rest.indexOf(':');
  const path = colon === -1 ? rest : rest.slice(0, colon);
  const tag = colon === -1 ? undefined : rest.slice(colon + 1);
  const example = kind === 'oci' ? 'oci:/srv/images/tool:1.4' : `${kind}:/srv/images/tool.tar`;
  if (!localPath.test(path) || path.split('/').includes('..')) {
    return {
      problem: `${kind}: needs an absolute path of letters, digits and ._+@/- (no ".."), e.g. ${example}`,
    };
  }
  if (tag !== undefined) {
    if (kind !== 'oci')
      return { problem: `${kind}: takes a path only (the archive's one image), e.g. ${example}` };
    if (!tagOnly.test(tag))
      return { problem: `oci: tag ${JSON.stringify(tag)} is not a tag, e.g. ${example}` };
  }
  return { kind, text, path, ...(tag !== undefined ? { tag } : {}) };
}

/** The parsed reference, or throws an Error with the problem (for callers that checked already). */
export function imageReference(text: string): ImageReference {
  const parsed = parseImageReference(text);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed;
}

/**
 * The reference in skopeo's transport syntax. A registry image is always fetched by digest once
 * it is resolved, so what is unpacked is what was recorded; a local path is the admitted one.
 */
export function skopeoSource(ref: ImageReference, digest?: string, realPath?: string): string {
  if (ref.kind === 'registry') {
    const pinned = digest ?? ref.digest;
    if (pinned) return `docker://${ref.repository}@${pinned}`;
    return `docker://${ref.repository}:${ref.tag}`;
  }
  const path = realPath ?? ref.path;
  if (ref.kind === 'oci') return `oci:${path}${ref.tag ? `:${ref.tag}` : ''}`;
  return `${ref.kind}:${path}`;
}

/** True when `repository` is `prefix` or below it on a path boundary (`a/b` allows `a/b/c`, not `a/bc`). */
export function repositoryAllowedBy(repository: string, prefix: string): boolean {
  const base = prefix.replace(/\/+$/, '');
  return repository === base || repository.startsWith(`${base}/`);
}
