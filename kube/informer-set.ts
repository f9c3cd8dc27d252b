/** One logical informer over several namespaces (one list+watch each), read as a single cache. */
import type { KubeObject } from './api.ts';
import type { Informer } from './informer.ts';

export class InformerSet<T extends KubeObject> {
  readonly #members: readonly Informer<T>[];

  constructor(members: readonly Informer<T>[]) {
    this.#members = members;
  }

  get synced(): boolean {
    return this.#members.every((m) => m.synced);
  }

  get restarts(): number {
    return this.#members.reduce((n, m) => n + m.restarts, 0);
  }

  get(key: string): T | undefined {
    for (const m of this.#members) {
      const found = m.store.get(key);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  list(): T[] {
    return this.#members.flatMap((m) => m.list());
  }

  start(): void {
    for (const m of this.#members) m.start();
  }

  stop(): void {
    for (const m of this.#members) m.stop();
  }

  async waitForSync(): Promise<void> {
    await Promise.all(this.#members.map((m) => m.waitForSync()));
  }
}
