/**
 * The one schema of the sidecar's YAML config (the seed's LiteLLM-style format). Types, runtime
 * validation and the JSON Schema all come from here; every setting in it is declared once in
 * settings/ (which also gives the CRD and the docs). Durations are in seconds, as in the seed.
 */
import { z } from 'zod';
import { ENTRY_SETTINGS, EITHER_SETTINGS, PARAMS_SETTINGS } from './settings/backend-settings.ts';
import { ROUTER_SETTINGS } from './settings/router-settings.ts';
import { sidecarShape } from './settings/setting.ts';
import { DISCOVERY_FIELDS, MAX_DISCOVERY_ENTRIES } from './settings/discovery-fields.ts';

/** The key of the config file in a ConfigMap (what the operator renders, what sidecars read). */
export const CONFIG_FILE_KEY = 'reranker_config.yaml';

export { API_FORMATS, STRATEGY_NAMES } from './settings/names.ts';
export type { ApiFormat, StrategyName } from './settings/names.ts';

const litellmParamsSchema = z.object({ ...sidecarShape(PARAMS_SETTINGS), ...sidecarShape(EITHER_SETTINGS) });

const modelEntrySchema = z
  .object({ ...sidecarShape(ENTRY_SETTINGS), litellm_params: litellmParamsSchema, ...sidecarShape(EITHER_SETTINGS) })
  .refine((entry) => entry.litellm_params.api_base ?? entry.litellm_params.base_url, {
    message: 'expected api_base (or base_url)',
    path: ['litellm_params', 'api_base'],
  });

const { model_name: _name, ...templateEntry } = sidecarShape(ENTRY_SETTINGS);

/**
 * A discovery template: the endpoints of a Service become backends with these settings, named
 * <service>/<pod>. A sidecar with Kubernetes API access follows them itself (discovery_mode: sidecar).
 */
const discoveryTemplateSchema = z.object({
  service: DISCOVERY_FIELDS.service,
  port_name: DISCOVERY_FIELDS.portName,
  port: DISCOVERY_FIELDS.port,
  scheme: DISCOVERY_FIELDS.scheme,
  ...templateEntry,
  litellm_params: litellmParamsSchema.prefault({}),
  ...sidecarShape(EITHER_SETTINGS),
});

const routerSettingsSchema = z.object(sidecarShape(ROUTER_SETTINGS));

export const configFileSchema = z.object({
  model_list: z.array(modelEntrySchema).default([]),
  discovery: z.array(discoveryTemplateSchema).max(MAX_DISCOVERY_ENTRIES).default([]),
  router_settings: routerSettingsSchema.default(routerSettingsSchema.parse({})),
  litellm_settings: z.record(z.string(), z.unknown()).optional(),
  environment_variables: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  general_settings: z.record(z.string(), z.unknown()).optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type ModelEntry = z.infer<typeof modelEntrySchema>;
export type DiscoveryTemplateEntry = z.infer<typeof discoveryTemplateSchema>;
export type RouterSettingsInput = z.infer<typeof routerSettingsSchema>;
