/**
 * A list in pages, as client-go's tools/pager: follow `continue` until the last page; later pages
 * carry no resourceVersion (the server refuses one beside `continue`); when a continue token
 * expires mid-way (410, the data compacted), fall back to one full list at the first query's
 * resourceVersion, unpaged.
 */
import { KubeApiError, type KubeObject, type ObjectDecoder, type ObjectList, type ProtobufOption } from './api.ts';

export interface Lister {
  list<T extends KubeObject>(
    path: string,
    query: Record<string, string | undefined>,
    options?: { signal?: AbortSignal } & ProtobufOption<T>,
  ): Promise<ObjectList<T>>;
}

export interface ListedPages<T> {
  readonly items: T[];
  readonly resourceVersion: string;
  /** More than one page came back. */
  readonly paged: boolean;
  /** Calls made (pages, and the full list after an expired token). */
  readonly calls: number;
}

export async function listPages<T extends KubeObject>(
  api: Lister,
  path: string,
  query: Record<string, string | undefined>,
  signal?: AbortSignal,
  protobuf?: ObjectDecoder<T>,
): Promise<ListedPages<T>> {
  const items: T[] = [];
  const options = { signal, protobuf };
  let page = await api.list<T>(path, query, options);
  let calls = 1;
  let resourceVersion = page.resourceVersion;
  items.push(...page.items);
  const paged = page.continue !== undefined;
  while (page.continue !== undefined) {
    const next = { ...query, resourceVersion: undefined, resourceVersionMatch: undefined, continue: page.continue };
    try {
      page = await api.list<T>(path, next, options);
      calls++;
    } catch (error) {
      if (!(error instanceof KubeApiError && (error.status === 410 || error.reason === 'Expired'))) throw error;
      const full = await api.list<T>(path, { ...query, limit: undefined, continue: undefined }, options);
      return { items: full.items, resourceVersion: full.resourceVersion, paged, calls: calls + 2 };
    }
    items.push(...page.items);
    resourceVersion = page.resourceVersion;
  }
  return { items, resourceVersion, paged, calls };
}
