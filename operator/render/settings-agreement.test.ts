/**
 * Every setting is declared once (common/settings/); this proves its four products agree: a value
 * the CRD accepts renders to a value the sidecar accepts and reads back as the same setting, and a
 * value past a bound is refused on both sides. Values come from each declaration's own examples
 * (its bounds and just past them), so a new setting is covered the day it is declared.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { load } from 'js-yaml';
import { isDeepStrictEqual } from 'node:util';
import { configFileSchema } from '../../common/config-schema.ts';
import { EITHER_SETTINGS, ENTRY_SETTINGS, PARAMS_SETTINGS } from '../../common/settings/backend-settings.ts';
import { ROUTER_SETTINGS } from '../../common/settings/router-settings.ts';
import { camelCase, type Setting, type Settings } from '../../common/settings/setting.ts';
import { parseConfigText } from '../../sidecar/config/load.ts';
import { poolSpecSchema } from '../crd/pool-schema.ts';
import { renderConfig } from './render-config.ts';

interface Case {
  /** e.g. routing.canary.threshold */
  readonly crdPath: readonly string[];
  /** Where the sidecar reads it: e.g. router_settings.canary.threshold */
  readonly sidecarPaths: readonly (readonly string[])[];
  readonly setting: Setting;
}

function* cases(
  settings: Settings,
  crdPath: readonly string[],
  sidecarPaths: readonly (readonly string[])[],
): Generator<Case> {
  for (const [key, setting] of Object.entries(settings)) {
    if (setting.crd === undefined) continue;
    const crd = [...crdPath, camelCase(key)];
    const sidecar = sidecarPaths.map((p) => [...p, key]);
    if (setting.children !== undefined) yield* cases(setting.children, crd, sidecar);
    else yield { crdPath: crd, sidecarPaths: sidecar, setting };
  }
}

const ALL: Case[] = [
  ...cases(ROUTER_SETTINGS, ['routing'], [['router_settings']]),
  ...cases(ENTRY_SETTINGS, ['backends', '0'], [['model_list', '0']]),
  ...cases(PARAMS_SETTINGS, ['backends', '0'], [['model_list', '0', 'litellm_params']]),
  ...cases(
    EITHER_SETTINGS,
    ['backends', '0'],
    [
      ['model_list', '0'],
      ['model_list', '0', 'litellm_params'],
    ],
  ),
];

/** A minimal valid pool spec with `value` at `path` (and the same limit as `sidecarFileWith`). */
function specWith(path: readonly string[], value: unknown): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    routing: {},
    backends: [{ name: 'a', apiBase: 'http://198.18.0.1:8080', maxParallelRequests: 777 }],
  };
  let node: any = spec;
  for (const [i, key] of path.slice(0, -1).entries()) {
    node[key] ??= /^\d+$/.test(path[i + 1]!) ? [] : {};
    node = node[key];
  }
  node[path.at(-1)!] = value;
  return spec;
}

function at(doc: unknown, path: readonly string[]): unknown {
  return path.reduce<any>((node, key) => node?.[key], doc);
}

/** The sidecar's parsed view of a rendered file: the value the setting has, default applied. */
function sidecarValue(text: string, c: Case): unknown {
  const parsed = configFileSchema.parse(load(text));
  const found = c.sidecarPaths.map((p) => at(parsed, p)).find((v) => v !== undefined);
  return found ?? c.setting.default;
}

function sidecarFileWith(path: readonly string[], value: unknown): Record<string, unknown> {
  // A limit that sidecar_count divides: without one, sidecar_count changes nothing.
  const file: any = {
    model_list: [
      { model_name: 'a', max_parallel_requests: 777, litellm_params: { api_base: 'http://198.18.0.1:8080' } },
    ],
    router_settings: {},
  };
  let node = file;
  for (const key of path.slice(0, -1)) node = node[key] ??= {};
  node[path.at(-1)!] = value;
  return file;
}

test('the declarations cover every CRD setting and give each examples on both sides of its bounds', () => {
  assert.ok(ALL.length > 50, `${ALL.length} settings`);
  for (const c of ALL)
    assert.ok(c.setting.examples.valid.length > 0 && c.setting.examples.invalid.length > 0, c.crdPath.join('.'));
});

describe('a value the CRD accepts renders to the same setting in the sidecar', () => {
  for (const c of ALL) {
    test(c.crdPath.join('.'), () => {
      for (const value of c.setting.examples.valid) {
        const spec = poolSpecSchema.safeParse(specWith(c.crdPath, value));
        assert.ok(
          spec.success,
          `the CRD schema refuses ${JSON.stringify(value)}: ${spec.success ? '' : spec.error.message}`,
        );
        const rendered = renderConfig({ metadata: { name: 'p', namespace: 'ns' }, spec: spec.data }, []);
        assert.doesNotThrow(
          () => parseConfigText(rendered.text, 'rendered', {}),
          `the sidecar refuses what ${JSON.stringify(value)} renders to`,
        );
        assert.deepEqual(sidecarValue(rendered.text, c), c.setting.toSidecar(value), `${JSON.stringify(value)}`);
      }
    });
  }
});

describe('a value past a bound is refused by the CRD and, in sidecar units, by the sidecar', () => {
  for (const c of ALL) {
    test(c.crdPath.join('.'), () => {
      for (const { crd, sidecar } of c.setting.examples.invalid) {
        const spec = poolSpecSchema.safeParse(specWith(c.crdPath, crd));
        assert.ok(!spec.success, `the CRD schema accepts ${JSON.stringify(crd)}`);
        assert.ok(
          spec.error.issues.some((i) => i.path.join('.').startsWith(c.crdPath.join('.'))),
          `the error names ${c.crdPath.join('.')}: ${spec.error.message}`,
        );
        if (sidecar === undefined) continue;
        for (const path of c.sidecarPaths) {
          assert.ok(
            !configFileSchema.safeParse(sidecarFileWith(path, sidecar)).success,
            `the sidecar accepts ${path.join('.')}: ${JSON.stringify(sidecar)}`,
          );
        }
      }
    });
  }
});

/** What the sidecar runs on, through its real load path (schema, then normalizeConfig): the file's identity left out. */
function runsOn(file: unknown): unknown {
  const { hash: _hash, source: _source, ...config } = parseConfigText(JSON.stringify(file), 'agreement', {});
  return config;
}

/** Settings whose unset meaning is another setting's value, so no declared default can state it. */
const INHERITED: Readonly<Record<string, string>> = {
  'backends.0.forwardClientAuthorization': 'unset: router_settings.forward_client_authorization',
};

describe('the sidecar runs on what the declaration says (through normalizeConfig)', () => {
  for (const c of ALL) {
    test(c.crdPath.join('.'), () => {
      const path = c.sidecarPaths[0]!;
      const unset = runsOn(sidecarFileWith(path, undefined));
      if (c.setting.default !== undefined) {
        assert.deepEqual(runsOn(sidecarFileWith(path, c.setting.default)), unset, 'unset runs on the declared default');
      }
      for (const value of c.setting.examples.valid) {
        const spec = poolSpecSchema.parse(specWith(c.crdPath, value));
        const rendered = load(renderConfig({ metadata: { name: 'p', namespace: 'ns' }, spec }, []).text);
        const written = sidecarFileWith(path, c.setting.toSidecar(value));
        assert.deepEqual(runsOn(rendered), runsOn(written), `${JSON.stringify(value)}: rendered vs written`);
        if (
          INHERITED[c.crdPath.join('.')] === undefined &&
          !isDeepStrictEqual(c.setting.toSidecar(value), c.setting.default)
        ) {
          assert.notDeepEqual(runsOn(written), unset, `${JSON.stringify(value)} changes what the sidecar runs on`);
        }
      }
    });
  }
});
