/**
 * The one schema of the sidecar's YAML config (the seed's LiteLLM-style format). Types, runtime
 * validation and the JSON Schema all come from here; every setting in it is declared once in
 * settings/ (which also gives the CRD and the docs). Durations are in seconds, as in the seed.
 */
import { z } from 'zod';
import { ENTRY_SETTINGS, EITHER_SETTINGS, PARAMS_SETTINGS } from './settings/backend-settings.ts';
import { ROUTER_SETTINGS } from './settings/router-settings.ts';
import { sidecarShape } from './settings/setting.ts';

/** The key of the config file in a ConfigMap (what the operator renders, what sidecars read). */
export const CONFIG_FILE_KEY = 'reranker_config.yaml';

export { API_FORMATS, CANARY_ACTIONS, DEFAULT_RETRY_STATUS_CODES, STRATEGY_NAMES } from './settings/names.ts';
export type { ApiFormat, StrategyName } from './settings/names.ts';

export const litellmParamsSchema = z.object({ ...sidecarShape(PARAMS_SETTINGS), ...sidecarShape(EITHER_SETTINGS) });

export const modelEntrySchema = z
  .object({ ...sidecarShape(ENTRY_SETTINGS), litellm_params: litellmParamsSchema, ...sidecarShape(EITHER_SETTINGS) })
  .refine((entry) => entry.litellm_params.api_base ?? entry.litellm_params.base_url, {
    message: 'expected api_base (or base_url)',
    path: ['litellm_params', 'api_base'],
  });

export const routerSettingsSchema = z.object(sidecarShape(ROUTER_SETTINGS));

export const configFileSchema = z.object({
  model_list: z.array(modelEntrySchema).default([]),
  router_settings: routerSettingsSchema.default(routerSettingsSchema.parse({})),
  litellm_settings: z.record(z.string(), z.unknown()).optional(),
  environment_variables: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  general_settings: z.record(z.string(), z.unknown()).optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type ModelEntry = z.infer<typeof modelEntrySchema>;
export type RouterSettingsInput = z.infer<typeof routerSettingsSchema>;

/** JSON Schema of the config file (what editors and the operator's CRD build on). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
