/**
 * The queue of calls waiting for capacity, as a plain data structure (no timers, no promises: the
 * async wiring is flow-control.ts). Order: the highest priority first; within a priority,
 * round-robin across tenants (so one tenant's batch job cannot starve another's searches); within
 * a tenant, first come first served. Bounded: at most `maxLength` waiters; when full, a newcomer
 * displaces the newest waiter of a strictly lower priority, or is refused.
 */

export interface Waiting {
  readonly priority: number;
  readonly tenant: string;
  /** Arrival order (increasing): the newest is displaced first. */
  readonly order: number;
}

interface Level<W extends Waiting> {
  readonly priority: number;
  /** Waiters by tenant, oldest first; a tenant is here only while it has waiters. */
  readonly byTenant: Map<string, W[]>;
  /** Tenants with waiters, in round-robin order; `next` is whose turn it is. */
  readonly ring: string[];
  next: number;
  /** Waiters of this level (sum over tenants). */
  size: number;
}

export type Offer<W> = { readonly queued: true; readonly displaced: W | undefined } | { readonly queued: false };

export class FlowQueue<W extends Waiting> {
  /** Levels with waiters, highest priority first. */
  readonly #levels: Level<W>[] = [];
  #length = 0;
  maxLength: number;

  constructor(maxLength: number) {
    this.maxLength = maxLength;
  }

  get length(): number {
    return this.#length;
  }

  /** The highest priority waiting, or -Infinity when none waits. */
  get topPriority(): number {
    return this.#levels.length === 0 ? Number.NEGATIVE_INFINITY : this.#levels[0]!.priority;
  }

  /** Adds `w`; when full, displaces the newest waiter of the lowest priority below w's, or refuses w. */
  offer(w: W): Offer<W> {
    let displaced: W | undefined;
    if (this.#length >= this.maxLength) {
      const lowest = this.#levels[this.#levels.length - 1];
      if (lowest === undefined || lowest.priority >= w.priority) return { queued: false };
      displaced = this.#newestOf(lowest);
      this.remove(displaced);
    }
    const level = this.#levelOf(w.priority);
    let list = level.byTenant.get(w.tenant);
    if (list === undefined) {
      list = [];
      level.byTenant.set(w.tenant, list);
      // A new tenant takes its turn after the one whose turn it is now.
      level.ring.splice(level.next, 0, w.tenant);
      level.next++;
      if (level.next >= level.ring.length) level.next = 0;
    }
    list.push(w);
    level.size++;
    this.#length++;
    return { queued: true, displaced };
  }

  /** The waiter whose turn it is (not removed). */
  peek(): W | undefined {
    const level = this.#levels[0];
    if (level === undefined) return undefined;
    return level.byTenant.get(level.ring[level.next]!)![0];
  }

  /** Removes and returns the waiter whose turn it is; the next tenant of its priority goes next. */
  take(): W | undefined {
    const w = this.peek();
    if (w === undefined) return undefined;
    this.#remove(w, true);
    return w;
  }

  /** Removes `w` (timed out, cancelled, displaced); false when it was not waiting. */
  remove(w: W): boolean {
    return this.#remove(w, false);
  }

  /** `served`: w was its tenant's turn, so the turn passes to the next tenant. */
  #remove(w: W, served: boolean): boolean {
    const at = this.#levels.findIndex((l) => l.priority === w.priority);
    if (at < 0) return false;
    const level = this.#levels[at]!;
    const list = level.byTenant.get(w.tenant);
    const index = list === undefined ? -1 : list.indexOf(w);
    if (index < 0) return false;
    list!.splice(index, 1);
    level.size--;
    this.#length--;
    const ringAt = level.ring.indexOf(w.tenant);
    if (list!.length === 0) {
      level.byTenant.delete(w.tenant);
      level.ring.splice(ringAt, 1);
      if (ringAt < level.next) level.next--;
    } else if (served) {
      level.next++;
    }
    if (level.next >= level.ring.length) level.next = 0;
    if (level.size === 0) this.#levels.splice(at, 1);
    return true;
  }

  /** Waiters per priority, highest first (for stats and metrics). */
  sizes(): { priority: number; waiting: number }[] {
    return this.#levels.map((l) => ({ priority: l.priority, waiting: l.size }));
  }

  #levelOf(priority: number): Level<W> {
    let at = 0;
    while (at < this.#levels.length && this.#levels[at]!.priority > priority) at++;
    const found = this.#levels[at];
    if (found !== undefined && found.priority === priority) return found;
    const level: Level<W> = { priority, byTenant: new Map(), ring: [], next: 0, size: 0 };
    this.#levels.splice(at, 0, level);
    return level;
  }

  /** The newest waiter of a level: the latest arrival among the tenants' last waiters. */
  #newestOf(level: Level<W>): W {
    let newest: W | undefined;
    let newestOrder = Number.NEGATIVE_INFINITY;
    for (const list of level.byTenant.values()) {
      const last = list[list.length - 1]!;
      if (newest === undefined || last.order > newestOrder) {
        newest = last;
        newestOrder = last.order;
      }
    }
    return newest!;
  }
}
