/**
 * A setting, declared once: its sidecar YAML key (the record key, snake_case, the seed's units),
 * its RerankerPool twin (camelCase, Kubernetes API units: Duration strings, integers, decimal
 * strings), bounds, default and description. The sidecar schema, the CRD schema, the operator's
 * render mapping and docs/settings.md are all generated from these declarations (kinds.ts builds
 * them; this file turns a record of them into shapes and mappings).
 */
import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';

export interface Setting<S = z.ZodType> {
  /** The sidecar's schema of this key (with its default, or optional). */
  readonly sidecar: S;
  /** The CRD's schema of this key (always optional: unset means the sidecar's default); none: sidecar only. */
  readonly crd: z.ZodType | undefined;
  /** A CRD value -> the sidecar's value (Duration -> seconds, decimal string -> number). */
  readonly toSidecar: (crdValue: unknown) => unknown;
  /** The sidecar's default in its own units; undefined when there is none. */
  readonly default: unknown;
  /** The sidecar's schema applies the default; false: an unset key is derived (api_format from a model prefix). */
  readonly filled: boolean;
  /** The same default in the CRD's units ("30s" for 30). */
  readonly crdDefaultValue: unknown;
  /** How the docs show a default too long to print (a built-in text). */
  readonly defaultShown?: string;
  readonly description: string;
  /** For docs: the sidecar's type and bounds (the CRD's come from its generated schema). */
  readonly sidecarType: string;
  /** CRD values at the bounds and just past them (with the sidecar's twin when there is one): what the agreement test feeds both sides. */
  readonly examples: Examples;
  /** The settings of a group. */
  readonly children?: Settings;
  /** A value of the CRD's first shape (v1alpha1 as first released: float seconds, fractions as numbers) in today's, or undefined when it is not one. */
  readonly fromLegacy?: (value: unknown) => unknown;
}

export interface Examples {
  readonly valid: readonly unknown[];
  readonly invalid: readonly { readonly crd: unknown; readonly sidecar?: unknown }[];
}

export type Settings = Readonly<Record<string, Setting>>;

export interface Common<T> {
  readonly description: string;
  readonly default?: T;
  /** false: the sidecar alone has this key (it is per pod, or a secret). */
  readonly crd?: boolean;
  /** The CRD declares the default too, so the apiserver fills it in (and printer columns show it). */
  readonly crdDefault?: boolean;
  /** false: the default is what an unset key means, but the sidecar's schema leaves it unset (it is derived). */
  readonly filled?: boolean;
  /** How the docs show a default too long to print. */
  readonly defaultShown?: string;
}

export type SidecarShape<T extends Settings> = { -readonly [K in keyof T]: T[K]['sidecar'] };

export function sidecarShape<const T extends Settings>(settings: T): SidecarShape<T> {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, setting] of Object.entries(settings)) shape[key] = setting.sidecar;
  return shape as SidecarShape<T>;
}

export function camelCase(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Each declaration group's [key, CRD key, setting] once: the operator maps settings for every
 * backend it renders, and the regex in camelCase was 11% of a reconcile (profile at 1,000 pools).
 * Keyed by the declaration objects, which are constants.
 */
const crdKeyed = new WeakMap<Settings, readonly (readonly [string, string, Settings[string]])[]>();
function withCrdKeys(settings: Settings): readonly (readonly [string, string, Settings[string]])[] {
  let keyed = crdKeyed.get(settings);
  if (keyed === undefined) {
    keyed = Object.entries(settings).map(([key, setting]) => [key, camelCase(key), setting] as const);
    crdKeyed.set(settings, keyed);
  }
  return keyed;
}

/** The CRD's object shape of these settings: camelCase keys, the sidecar-only ones left out. */
export function crdShape(settings: Settings): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, setting] of Object.entries(settings))
    if (setting.crd !== undefined) shape[camelCase(key)] = setting.crd;
  return shape;
}

/**
 * A CRD object's values of these settings -> the sidecar's keys and units, in declaration order.
 * Values equal to a default the sidecar's schema applies are left out (fewer bytes, same meaning).
 */
export function toSidecarSettings(settings: Settings, crd: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, crdKey, setting] of withCrdKeys(settings)) {
    const value = setting.crd === undefined ? undefined : crd[crdKey];
    if (value === undefined) continue;
    const converted = setting.toSidecar(value);
    if (setting.filled && setting.default !== undefined && isDeepStrictEqual(converted, setting.default)) continue;
    if (
      typeof converted === 'object' &&
      converted !== null &&
      !Array.isArray(converted) &&
      Object.keys(converted).length === 0
    )
      continue;
    out[key] = converted;
  }
  return out;
}
