/**
 * Pure: does a rendered config fit in a ConfigMap? The apiserver refuses a ConfigMap whose data
 * (keys + values) exceeds 1 MiB, so a pool too large to render must be reported, not applied.
 */
import { CONFIG_KEY, type RenderedConfig } from './render-config.ts';

/** The apiserver's limit on a ConfigMap's data (validation.MaxConfigMapSize, keys and values). */
const CONFIGMAP_DATA_LIMIT_BYTES = 1024 * 1024;

export interface TooLarge {
  readonly reason: 'ConfigTooLarge';
  readonly message: string;
}

export function configSizeProblem(rendered: RenderedConfig, limit = CONFIGMAP_DATA_LIMIT_BYTES): TooLarge | undefined {
  const bytes = Buffer.byteLength(CONFIG_KEY) + Buffer.byteLength(rendered.text);
  if (bytes <= limit) return undefined;
  const backends = rendered.readyCount;
  const perBackend = backends > 0 ? Math.round(bytes / backends) : bytes;
  return {
    reason: 'ConfigTooLarge',
    message:
      `the rendered config is ${bytes} bytes for ${backends} backend(s) (about ${perBackend} bytes each); ` +
      `a ConfigMap holds at most ${limit} bytes (about ${Math.floor(limit / perBackend)} such backends). The last good ConfigMap stays in place`,
  };
}
