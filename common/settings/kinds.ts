/** The kinds of setting (seconds, integer, decimal ...): each builds both schemas, the unit conversion and the bound examples. */
import { z } from 'zod';
import { DURATION_PATTERN, durationSeconds, formatDuration } from './duration.ts';
import {
  crdShape,
  sidecarShape,
  toSidecarSettings,
  type Common,
  type Examples,
  type Setting,
  type Settings,
} from './setting.ts';

const same = (value: unknown) => value;

function withDefault<T extends z.ZodType>(type: T, value: unknown): z.ZodType {
  return value === undefined ? type.optional() : type.default(value as never);
}

interface Declaration<S> {
  /** The sidecar's schema of the key. */
  readonly sidecar: S;
  /** The CRD's schema of its twin; none: the sidecar alone has the key. */
  readonly crd?: z.ZodType | undefined;
  readonly opts: Common<unknown>;
  /** For docs: the sidecar's type and bounds. */
  readonly sidecarType: string;
  /** CRD units -> the sidecar's, and back (default: the same value). */
  readonly toSidecar?: (v: unknown) => unknown;
  readonly toCrd?: (v: unknown) => unknown;
  readonly examples?: Examples;
  readonly fromLegacy?: (value: unknown) => unknown;
}

function declared<S>(d: Declaration<S>): Setting<S> {
  const { opts } = d;
  const toCrd = d.toCrd ?? same;
  const described = opts.crd === false || d.crd === undefined ? undefined : d.crd.describe(opts.description);
  const crd =
    described === undefined
      ? undefined
      : opts.crdDefault && opts.default !== undefined
        ? described.default(toCrd(opts.default) as never)
        : described.optional();
  return {
    sidecar: d.sidecar,
    crd,
    toSidecar: d.toSidecar ?? same,
    default: opts.default,
    filled: opts.filled !== false,
    crdDefaultValue: opts.default === undefined ? undefined : toCrd(opts.default),
    ...(opts.defaultShown === undefined ? {} : { defaultShown: opts.defaultShown }),
    description: opts.description,
    sidecarType: d.sidecarType,
    examples: d.examples ?? { valid: [], invalid: [] },
    ...(d.fromLegacy === undefined ? {} : { fromLegacy: d.fromLegacy }),
  };
}

/** A `{kind}` number where the sidecar's schema wants it, typed for z.infer. */
type Sidecar<T extends z.ZodType, D> = D extends undefined ? z.ZodOptional<T> : z.ZodDefault<T>;

function sidecarOf<T extends z.ZodType, D>(type: T, opts: Common<D>): Sidecar<T, D> {
  return withDefault(type.describe(opts.description), opts.filled === false ? undefined : opts.default) as Sidecar<
    T,
    D
  >;
}

const numberExamples = (o: { min: number; max: number }): Examples => ({
  valid: [o.min, o.max],
  invalid: [{ crd: o.min - 1, sidecar: o.min - 1 }, { crd: o.max + 1, sidecar: o.max + 1 }, { crd: String(o.min) }],
});

const range = (min: number, max: number) => `${min}..${max.toLocaleString('en-US')}`;

/** Seconds in the sidecar (`0.5`), a Duration in the CRD (`"500ms"`), both bounded. */
export function seconds<D extends number | undefined = undefined>(
  opts: Common<D> & { min: number; max: number; positive?: boolean },
) {
  const base = opts.positive ? z.number().positive() : z.number().min(opts.min);
  const low = opts.positive ? `> ${formatDuration(opts.min)}` : `>= ${formatDuration(opts.min)}`;
  const rule = `duration(self) ${opts.positive ? '>' : '>='} duration('${formatDuration(opts.min)}') && duration(self) <= duration('${formatDuration(opts.max)}')`;
  const crd = z
    .string()
    .max(32)
    .regex(new RegExp(DURATION_PATTERN))
    .refine(
      (v) => {
        const s = durationSeconds(v)!;
        return (opts.positive ? s > opts.min : s >= opts.min) && s <= opts.max;
      },
      `expected a duration ${low} and <= ${formatDuration(opts.max)}`,
    )
    .meta({ 'x-kubernetes-validations': [{ rule, message: `must be ${low} and <= ${formatDuration(opts.max)}` }] });
  return declared({
    sidecar: sidecarOf(base.max(opts.max), opts),
    crd,
    opts,
    toSidecar: (v) => durationSeconds(v as string),
    toCrd: (v) => formatDuration(v as number),
    sidecarType: `seconds, ${opts.positive ? `> ${opts.min}` : `>= ${opts.min}`}, <= ${opts.max.toLocaleString('en-US')}`,
    examples: {
      valid: [formatDuration(opts.positive ? opts.min + 0.001 : opts.min), formatDuration(opts.max)],
      invalid: [
        { crd: formatDuration(opts.max + 1), sidecar: opts.max + 1 },
        ...(opts.positive ? [{ crd: formatDuration(opts.min), sidecar: opts.min }] : []),
        { crd: '30' },
        { crd: 1.5 },
      ],
    },
    fromLegacy: (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? formatDuration(v) : undefined),
  });
}

/** An integer on both sides. */
export function integer<D extends number | undefined = undefined>(opts: Common<D> & { min: number; max: number }) {
  return declared({
    sidecar: sidecarOf(z.int().min(opts.min).max(opts.max), opts),
    crd: z.int().min(opts.min).max(opts.max),
    opts,
    sidecarType: `integer ${range(opts.min, opts.max)}`,
    examples: numberExamples(opts),
  });
}

/** A number in the sidecar (the seed writes `weight: 2.0`), an integer in the CRD (no floats in a Kubernetes spec). */
export function wholeInCrd<D extends number | undefined = undefined>(opts: Common<D> & { min: number; max: number }) {
  const examples = numberExamples(opts);
  return declared({
    sidecar: sidecarOf(z.number().min(opts.min).max(opts.max), opts),
    crd: z.int().min(opts.min).max(opts.max),
    opts,
    sidecarType: `number ${range(opts.min, opts.max)}`,
    examples: { valid: examples.valid, invalid: [...examples.invalid, { crd: opts.min + 0.5 }] },
  });
}

const DECIMAL = /^-?[0-9]{1,9}(\.[0-9]{1,12})?$/;

/** A number in the sidecar, a decimal string in the CRD (`"0.6"`): a fraction with no float in the spec. */
export function decimal<D extends number | undefined = undefined>(opts: Common<D> & { min: number; max: number }) {
  const rule = `double(self) >= ${opts.min.toFixed(1)} && double(self) <= ${opts.max.toFixed(1)}`;
  const crd = z
    .string()
    .max(24)
    .regex(DECIMAL)
    .refine((v) => Number(v) >= opts.min && Number(v) <= opts.max, `expected a decimal from ${opts.min} to ${opts.max}`)
    .meta({ 'x-kubernetes-validations': [{ rule, message: `must be from ${opts.min} to ${opts.max}` }] });
  return declared({
    sidecar: sidecarOf(z.number().min(opts.min).max(opts.max), opts),
    crd,
    opts,
    toSidecar: (v) => Number(v),
    toCrd: (v) => String(v),
    sidecarType: `number ${opts.min}..${opts.max}`,
    examples: {
      valid: [String(opts.min), String(opts.max), String((opts.min + opts.max) / 2)],
      invalid: [
        { crd: String(opts.max + 1), sidecar: opts.max + 1 },
        { crd: String(opts.min - 1), sidecar: opts.min - 1 },
        { crd: 'half' },
        { crd: 0.5 },
      ],
    },
    fromLegacy: (v) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined),
  });
}

export function boolean<D extends boolean | undefined = undefined>(opts: Common<D>) {
  return declared({
    sidecar: sidecarOf(z.boolean(), opts),
    crd: z.boolean(),
    opts,
    sidecarType: 'boolean',
    examples: { valid: [true, false], invalid: [{ crd: 'yes', sidecar: 'yes' }] },
  });
}

export function oneOf<
  const V extends readonly [string, ...string[]],
  D extends V[number] | undefined = undefined,
  F extends boolean = true,
>(values: V, opts: Common<D> & { filled?: F }) {
  const sidecar = sidecarOf(z.enum(values), opts) as F extends false
    ? z.ZodOptional<z.ZodEnum<{ [K in V[number]]: K }>>
    : Sidecar<z.ZodEnum<{ [K in V[number]]: K }>, D>;
  return declared({
    sidecar,
    crd: z.enum(values),
    opts,
    sidecarType: `one of ${values.join(', ')}`,
    examples: { valid: values, invalid: [{ crd: 'none-of-these', sidecar: 'none-of-these' }] },
  });
}

export function text<D extends string | undefined = undefined>(opts: Common<D> & { max: number; min?: number }) {
  const type = z
    .string()
    .min(opts.min ?? 1)
    .max(opts.max);
  const long = 'x'.repeat(opts.max + 1);
  return declared({
    sidecar: sidecarOf(type, opts),
    crd: type,
    opts,
    sidecarType: `string (${opts.min ?? 1}..${opts.max} characters)`,
    examples: {
      valid: ['x'.repeat(opts.min ?? 1), 'x'.repeat(opts.max)],
      invalid: [
        { crd: long, sidecar: long },
        { crd: '', sidecar: '' },
      ],
    },
  });
}

/** A list of strings, each and the list bounded. */
export function texts<D extends string[] | undefined = undefined>(
  opts: Common<D> & { itemMax: number; minItems: number; maxItems: number },
) {
  const type = z.array(z.string().min(1).max(opts.itemMax)).min(opts.minItems).max(opts.maxItems);
  const doc = `list of ${opts.minItems}..${opts.maxItems} strings (each <= ${opts.itemMax} characters)`;
  const list = (n: number, item = 'd') => Array.from({ length: n }, () => item);
  return declared({
    sidecar: sidecarOf(type, opts),
    crd: type,
    opts,
    sidecarType: doc,
    examples: {
      valid: [list(opts.minItems), list(opts.maxItems, 'x'.repeat(opts.itemMax))],
      invalid: [
        { crd: list(opts.maxItems + 1), sidecar: list(opts.maxItems + 1) },
        ...(opts.minItems > 0 ? [{ crd: list(opts.minItems - 1), sidecar: list(opts.minItems - 1) }] : []),
        { crd: list(opts.minItems, 'x'.repeat(opts.itemMax + 1)) },
      ],
    },
  });
}

/** A list of integers in a range (e.g. HTTP status codes). */
export function integers<D extends number[] | undefined = undefined>(
  opts: Common<D> & { min: number; max: number; maxItems: number },
) {
  const type = z.array(z.int().min(opts.min).max(opts.max)).max(opts.maxItems);
  const doc = `list of at most ${opts.maxItems} integers ${range(opts.min, opts.max)}`;
  return declared({
    sidecar: sidecarOf(type, opts),
    crd: type,
    opts,
    sidecarType: doc,
    examples: {
      valid: [[opts.min, opts.max], []],
      invalid: [
        { crd: [opts.max + 1], sidecar: [opts.max + 1] },
        { crd: Array.from({ length: opts.maxItems + 1 }, () => opts.min) },
      ],
    },
  });
}

/** A string the sidecar reads as is and the CRD has no twin of (keys, file paths, URLs). */
export function sidecarText<R extends boolean = false, D extends string | undefined = undefined>(opts: {
  description: string;
  required?: R;
  min?: number;
  default?: D;
}) {
  const described = z
    .string()
    .min(opts.min ?? 0)
    .describe(opts.description);
  type Out = R extends true ? z.ZodString : D extends string ? z.ZodDefault<z.ZodString> : z.ZodOptional<z.ZodString>;
  const sidecar = (opts.required ? described : withDefault(described, opts.default)) as Out;
  return declared({
    sidecar,
    opts: { description: opts.description, crd: false, default: opts.default },
    sidecarType: 'string',
  });
}

/** A mapping the sidecar accepts and ignores (LiteLLM compatibility). */
export function ignored(opts: { description: string }) {
  const type = z.record(z.string(), z.unknown()).describe(opts.description).optional();
  return declared({
    sidecar: type,
    opts: { description: opts.description, crd: false },
    sidecarType: 'mapping (ignored)',
  });
}

/** A nested group of settings (`canary`, `local_backend`); unset, it is `{}`, so its children's defaults apply. */
export function group<const T extends Settings>(settings: T, opts: { description: string; crd?: boolean }) {
  const sidecar = z
    .object(sidecarShape(settings))
    .describe(opts.description)
    .prefault({} as never);
  const crd = opts.crd === false ? undefined : z.object(crdShape(settings));
  return {
    ...declared({
      sidecar,
      crd,
      opts,
      sidecarType: 'mapping',
      toSidecar: (v) => toSidecarSettings(settings, v as Record<string, unknown>),
    }),
    children: settings,
  };
}
