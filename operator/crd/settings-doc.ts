/**
 * docs/settings.md, generated: every sidecar key from its one declaration (common/settings/), and
 * every RerankerPool field from the generated CRD (so what `kubectl explain` shows is what the
 * docs say). `make crds` writes it; a test fails when it is stale.
 */
import { EITHER_SETTINGS, ENTRY_SETTINGS, PARAMS_SETTINGS } from '../../common/settings/backend-settings.ts';
import { ROUTER_SETTINGS } from '../../common/settings/router-settings.ts';
import { camelCase, type Settings } from '../../common/settings/setting.ts';
import { SIDECAR_ENV, type EnvVar } from '../../common/settings/environment.ts';
import { OPERATOR_ENV } from '../../common/settings/operator-environment.ts';
import { buildCrd } from './generate-crd.ts';

export const SETTINGS_DOC_FILE = 'docs/settings.md';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => `\`${text}\``;

function shown(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'object' && value !== null && 'shown' in value) return String(value.shown);
  return code(Array.isArray(value) ? `[${value.join(', ')}]` : String(value));
}

function sidecarRows(
  settings: Settings,
  prefix: string,
  where: string | undefined,
  crdPrefix: string | undefined,
): string[] {
  const rows: string[] = [];
  for (const [key, s] of Object.entries(settings)) {
    const twin = s.crd === undefined || crdPrefix === undefined ? '' : code(`${crdPrefix}${camelCase(key)}`);
    const place = where === undefined ? [] : [where];
    if (s.children !== undefined) {
      rows.push(
        `| ${code(prefix + key)} | ${[...place, 'mapping', shown(s.default), cell(s.description), twin].join(' | ')} |`,
      );
      rows.push(
        ...sidecarRows(
          s.children,
          `${prefix}${key}.`,
          where,
          s.crd === undefined ? undefined : `${crdPrefix}${camelCase(key)}.`,
        ),
      );
    } else {
      rows.push(
        `| ${code(prefix + key)} | ${[...place, cell(s.sidecarType), s.defaultShown ?? shown(s.default), cell(s.description), twin].join(' | ')} |`,
      );
    }
  }
  return rows;
}

type Node = {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
  items?: Node;
  properties?: Record<string, Node>;
  'x-kubernetes-validations'?: { message: string }[];
};

function crdType(node: Node): string {
  if (node.enum !== undefined) return `one of ${node.enum.join(', ')}`;
  if (node.pattern?.includes('(h|m|s|ms)')) return `duration (${node['x-kubernetes-validations']?.[0]?.message ?? ''})`;
  if (node.type === 'integer') return `integer ${node.minimum ?? ''}..${node.maximum?.toLocaleString('en-US') ?? ''}`;
  if (node.type === 'string' && node.pattern?.startsWith('^-?[0-9]'))
    return `decimal string (${node['x-kubernetes-validations']?.[0]?.message ?? ''})`;
  if (node.type === 'array')
    return `list (at most ${node.maxItems}) of ${node.items?.properties ? 'objects' : crdType(node.items ?? {})}`;
  if (node.type === 'string') return `string (<= ${node.maxLength} characters)`;
  return node.type ?? '';
}

/** CRD path -> the default an unset declared setting has (in CRD units). */
function declaredDefaults(settings: Settings, prefix: string, out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [key, s] of Object.entries(settings)) {
    const path = `${prefix}.${camelCase(key)}`;
    if (s.crdDefaultValue !== undefined)
      out.set(path, s.defaultShown === undefined ? s.crdDefaultValue : { shown: s.defaultShown });
    if (s.children !== undefined) declaredDefaults(s.children, path, out);
  }
  return out;
}

function* crdRows(node: Node, path: string, defaults: ReadonlyMap<string, unknown>): Generator<string> {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const at = `${path}.${key}`;
    const value =
      child.default !== undefined && (typeof child.default !== 'object' || Array.isArray(child.default))
        ? child.default
        : defaults.get(at);
    yield `| ${code(at)} | ${cell(crdType(child))} | ${shown(value)} | ${cell(child.description ?? '')} |`;
    yield* crdRows(child, at, defaults);
    if (child.items?.properties !== undefined) yield* crdRows(child.items, `${at}[]`, defaults);
  }
}

function envRows(vars: Readonly<Record<string, EnvVar>>): string[] {
  return Object.entries(vars).map(([name, v]) => {
    const names = v.alias === undefined ? code(name) : `${code(name)} (or ${code(v.alias)})`;
    return `| ${names} | ${cell(v.description)} | ${v.defaultShown ?? shown(v.default)} |`;
  });
}

export function settingsDoc(): string {
  const crd = buildCrd() as unknown as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Node } } } }[] };
  };
  const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec;
  return [
    '# Settings reference',
    '',
    '<!-- Generated from common/settings/ and the CRD by `make crds`. Do not edit: a test fails when it is stale. -->',
    '',
    "Every setting is declared once (`common/settings/`): the sidecar's schema, the RerankerPool CRD, the",
    "operator's rendering and these tables all come from that declaration. The sidecar's YAML keeps the",
    "seed's LiteLLM vocabulary and units (seconds, fractions); the CRD follows the Kubernetes API",
    'conventions (durations as `"30s"`, integers, decimals as strings), and the operator converts.',
    '',
    '## Sidecar: `model_list[]` entries',
    '',
    '"either" keys may be written on the entry (the seed) or in `litellm_params` (LiteLLM); the entry wins.',
    '',
    '| key | where | type | default | meaning | RerankerPool twin |',
    '|---|---|---|---|---|---|',
    ...sidecarRows(ENTRY_SETTINGS, '', 'entry', 'backends[].'),
    ...sidecarRows(PARAMS_SETTINGS, 'litellm_params.', 'litellm_params', 'backends[].'),
    ...sidecarRows(EITHER_SETTINGS, '', 'either', 'backends[].'),
    '',
    '## Sidecar: `router_settings`',
    '',
    '| key | type | default | meaning | RerankerPool twin |',
    '|---|---|---|---|---|',
    ...sidecarRows(ROUTER_SETTINGS, '', undefined, 'routing.'),
    '',
    'Also accepted at the top level: `litellm_settings` (its keys that are router settings are merged',
    '**under** `router_settings`, which wins), `environment_variables` (values for `os.environ/`',
    'references), `general_settings` (ignored).',
    '',
    '## Sidecar: environment variables',
    '',
    '| variable | meaning | default |',
    '|---|---|---|',
    ...envRows(SIDECAR_ENV),
    '',
    '## Operator: environment variables',
    '',
    '| variable | meaning | default |',
    '|---|---|---|',
    ...envRows(OPERATOR_ENV),
    '',
    '## RerankerPool (`reranker.dev/v1alpha1`): `spec`',
    '',
    '`kubectl explain rerankerpool.spec --recursive` shows the same tree; `kubectl explain rerankerpool.spec.<field>` each description.',
    '',
    "Unset settings take the sidecar's default (shown in CRD units).",
    '',
    '| field | type | default | meaning |',
    '|---|---|---|---|',
    ...crdRows(
      spec,
      'spec',
      new Map([
        ...declaredDefaults(ROUTER_SETTINGS, 'spec.routing'),
        ...declaredDefaults({ ...ENTRY_SETTINGS, ...PARAMS_SETTINGS, ...EITHER_SETTINGS }, 'spec.backends[]'),
        ...declaredDefaults({ ...ENTRY_SETTINGS, ...PARAMS_SETTINGS, ...EITHER_SETTINGS }, 'spec.discovery[]'),
      ]),
    ),
    '',
  ].join('\n');
}
