/**
 * What this operator last wrote to an object. An informer's cache sees our own write a moment
 * after it returns; until then the cache still holds the version the write replaced, and
 * comparing against it would make us write the same thing again. resourceVersions are compared
 * for equality only.
 */
interface Written<V> {
  /** The resourceVersion the write was computed from (undefined: the object did not exist). */
  readonly basedOn: string | undefined;
  /** The resourceVersion the write produced. */
  readonly result: string | undefined;
  readonly value: V;
}

export class WriteMemo<V> {
  readonly #byKey = new Map<string, Written<V>>();

  /** The value to compare against: our write while the cache still shows what it replaced, else the cache. */
  view(key: string, cachedVersion: string | undefined, cachedValue: V): V {
    const written = this.#byKey.get(key);
    if (written === undefined) return cachedValue;
    if (cachedVersion === written.result) {
      this.#byKey.delete(key); // the cache has caught up
      return cachedValue;
    }
    return cachedVersion === written.basedOn ? written.value : cachedValue;
  }

  /** Our last write's value, while the cache has not yet shown it (no side effect). */
  pending(key: string): V | undefined {
    return this.#byKey.get(key)?.value;
  }

  remember(key: string, basedOn: string | undefined, result: string | undefined, value: V): void {
    this.#byKey.set(key, { basedOn, result, value });
  }

  forget(key: string): void {
    this.#byKey.delete(key);
  }

  get size(): number {
    return this.#byKey.size;
  }
}
