/**
 * What one Kubernetes API request was, in a small bounded vocabulary fit for metric labels: the
 * verb (as in RBAC, with server-side apply apart from other patches) and the resource's plural.
 * Names and namespaces are never part of it, so a label set stays bounded by the code's own paths.
 */

export type ApiVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'apply' | 'delete';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One finished request, as an observer sees it. */
export interface ApiRequest {
  readonly verb: ApiVerb;
  /** The plural (configmaps, rerankerpools, leases, ...); "other" for a path outside /api and /apis. */
  readonly resource: string;
  /** The HTTP status as a string, or "error" when no response came (network failure, timeout). */
  readonly code: string;
  /** Time to the whole response; undefined for a watch, whose stream lives on. */
  readonly seconds: number | undefined;
}

/** Told of every request a KubeApi makes. */
export interface RequestObserver {
  onRequest(request: ApiRequest): void;
}

const APPLY_CONTENT_TYPE = 'application/apply-patch+yaml';

/**
 * `/api/v1/namespaces/ns/configmaps/name` -> configmaps with a name; `/apis/g/v/pods` -> pods
 * without. The segments after the group/version are [namespaces, ns,] resource[, name[, subresource]].
 */
function resourceOf(path: string): { resource: string; named: boolean } {
  const segments = path
    .split('?')[0]!
    .split('/')
    .filter((s) => s !== '');
  const rest = segments[0] === 'api' ? segments.slice(2) : segments[0] === 'apis' ? segments.slice(3) : undefined;
  if (rest === undefined || rest.length === 0) return { resource: 'other', named: false };
  const scoped = rest[0] === 'namespaces' && rest.length >= 3 ? rest.slice(2) : rest;
  return { resource: scoped[0]!, named: scoped.length >= 2 };
}

const VERB_OF_METHOD: Readonly<Record<HttpMethod, ApiVerb>> = {
  GET: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

export function describeRequest(
  method: HttpMethod,
  path: string,
  options: { contentType?: string; watch?: boolean } = {},
): { verb: ApiVerb; resource: string } {
  const { resource, named } = resourceOf(path);
  if (options.watch) return { verb: 'watch', resource };
  const verb = VERB_OF_METHOD[method];
  if (verb === 'get' && !named) return { verb: 'list', resource };
  if (verb === 'patch' && options.contentType === APPLY_CONTENT_TYPE) return { verb: 'apply', resource };
  return { verb, resource };
}
