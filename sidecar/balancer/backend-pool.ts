/** Builds the backends of a new config, reusing the state of those whose identity is unchanged. */
import type { LbConfig } from '../config/model.ts';
import { Backend, type BackendDeps } from './backend.ts';

export interface PoolChange {
  readonly backends: readonly Backend[];
  readonly removed: readonly Backend[];
}

export function reconcileBackends(previous: readonly Backend[], config: LbConfig, deps: BackendDeps): PoolChange {
  const byId = new Map(previous.map((b) => [b.id, b]));
  const r = config.router;
  const backends = config.backends.map((spec) => {
    const kept = byId.get(spec.id);
    if (kept === undefined) return new Backend(spec, r, deps);
    byId.delete(spec.id);
    kept.update(spec, r);
    return kept;
  });
  return { backends, removed: [...byId.values()] };
}
