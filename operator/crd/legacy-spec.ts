/**
 * RerankerPools written when v1alpha1 still took seconds and fractions as numbers
 * (`retryDelay: 0.2`), stay in etcd as they were: the apiserver checks a write, not a read. Their
 * numbers are read in today's units ("200ms", "0.6") and each is named, so the pool keeps
 * rendering while its owner is told what to rewrite. A value with no such reading (a fractional
 * weight) is left for validation to refuse, naming the field.
 */
import { EITHER_SETTINGS, ENTRY_SETTINGS, PARAMS_SETTINGS } from '../../common/settings/backend-settings.ts';
import { ROUTER_SETTINGS } from '../../common/settings/router-settings.ts';
import { camelCase, type Settings } from '../../common/settings/setting.ts';

const BACKEND = { ...ENTRY_SETTINGS, ...PARAMS_SETTINGS, ...EITHER_SETTINGS };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function upgradeObject(settings: Settings, object: Json, path: string, upgraded: string[]): Json {
  let out = object;
  for (const [key, setting] of Object.entries(settings)) {
    const field = camelCase(key);
    const value = object[field];
    let next: unknown = value;
    if (setting.children !== undefined && isObject(value))
      next = upgradeObject(setting.children, value, `${path}.${field}`, upgraded);
    else if (setting.fromLegacy !== undefined && typeof value === 'number') {
      const today = setting.fromLegacy(value);
      if (today !== undefined) {
        upgraded.push(`${path}.${field}: ${value} -> ${JSON.stringify(today)}`);
        next = today;
      }
    }
    if (next !== value) out = { ...out, [field]: next };
  }
  return out;
}

function upgradeList(list: unknown, path: string, upgraded: string[]): unknown {
  return Array.isArray(list)
    ? list.map((item, i) => (isObject(item) ? upgradeObject(BACKEND, item, `${path}[${i}]`, upgraded) : item))
    : list;
}

/** The spec in today's units, and what was read from the old ones (`spec.routing.retryDelay: 0.2 -> "200ms"`). */
export function upgradeLegacySpec(spec: unknown): { spec: unknown; upgraded: string[] } {
  if (!isObject(spec)) return { spec, upgraded: [] };
  const upgraded: string[] = [];
  const out: Json = { ...spec };
  if (isObject(spec.routing)) out.routing = upgradeObject(ROUTER_SETTINGS, spec.routing, 'spec.routing', upgraded);
  out.backends = upgradeList(spec.backends, 'spec.backends', upgraded);
  out.discovery = upgradeList(spec.discovery, 'spec.discovery', upgraded);
  if (spec.backends === undefined) delete out.backends;
  if (spec.discovery === undefined) delete out.discovery;
  return upgraded.length === 0 ? { spec, upgraded } : { spec: out, upgraded };
}
