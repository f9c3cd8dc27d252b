/**
 * What this operator last wrote to an object. An informer's cache sees our own write a moment
 * after it returns; until then the cache still holds the version the write replaced, and
 * comparing against it would make us write the same thing again. resourceVersions are compared
 * for equality only.
 */
interface Written<V> {
  /**
   * Versions older than this write: the one it was computed from (undefined: the object did not
   * exist) and, when the cache had not caught up with our previous write before this one, that
   * write's base and result too (the cache may still show any of them).
   */
  readonly older: ReadonlySet<string | undefined>;
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
    return written.older.has(cachedVersion) ? written.value : cachedValue;
  }

  /** Our last write's value, while the cache has not yet shown it (no side effect). */
  pending(key: string): V | undefined {
    return this.#byKey.get(key)?.value;
  }

  remember(key: string, basedOn: string | undefined, result: string | undefined, value: V): void {
    // Two writes before the cache saw the first: the cache may next show the first's result,
    // which is older than this write, not someone else's.
    const previous = this.#byKey.get(key);
    const older = new Set(previous === undefined ? [] : [...previous.older, previous.result]);
    older.add(basedOn);
    this.#byKey.set(key, { older, result, value });
  }

  forget(key: string): void {
    this.#byKey.delete(key);
  }

  get size(): number {
    return this.#byKey.size;
  }
}
