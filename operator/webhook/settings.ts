/**
 * The injection settings from the operator's environment (the chart sets each; docs/operator.md "Inject the
 * sidecar" lists them). Pure: env in, settings or problems out.
 */
import type { Resources, SidecarSettings } from './sidecar-container.ts';

export interface InjectionSettings {
  readonly sidecar: SidecarSettings;
  readonly port: number;
  readonly host: string;
  readonly webhookConfigName: string;
  /** `<service>.<namespace>`: the serving certificate names `<service>.<namespace>.svc`. */
  readonly service: string | undefined;
  /** URL mode: the API server calls this URL (the operator runs outside the cluster). */
  readonly url: string | undefined;
  readonly certMode: 'self' | 'cert-manager';
  readonly certSecret: string;
  readonly certCheckMs: number;
}

/** The chart's injection.sidecar.resources (values.yaml says how make footprint chose them). */
const DEFAULT_RESOURCES: Resources = { requests: { cpu: '100m', memory: '96Mi' }, limits: { memory: '128Mi' } };

/** The tag of an image reference (after the last ':' that follows the last '/'); digest references keep the digest. */
export function imageVersion(image: string): string {
  const at = image.indexOf('@');
  if (at >= 0) return image.slice(at + 1);
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? image.slice(colon + 1) : 'latest';
}

export function injectionSettings(env: NodeJS.ProcessEnv): {
  settings: InjectionSettings | undefined;
  problems: string[];
} {
  if (env.INJECTION_ENABLED !== 'true') return { settings: undefined, problems: [] };
  const problems: string[] = [];
  const image = env.SIDECAR_IMAGE ?? '';
  if (image === '') problems.push('SIDECAR_IMAGE: required with INJECTION_ENABLED=true');
  let resources = DEFAULT_RESOURCES;
  if (env.SIDECAR_RESOURCES) {
    try {
      resources = JSON.parse(env.SIDECAR_RESOURCES) as Resources;
    } catch {
      problems.push('SIDECAR_RESOURCES: not JSON');
    }
  }
  const url = env.WEBHOOK_URL || undefined;
  if (url !== undefined && !(URL.canParse(url) && url.startsWith('https://')))
    problems.push('WEBHOOK_URL: not an https URL');
  const service = env.WEBHOOK_SERVICE || undefined;
  if (url === undefined && service === undefined)
    problems.push('WEBHOOK_SERVICE (<name>.<namespace>) or WEBHOOK_URL: one is required');
  const certMode = env.WEBHOOK_CERT_MODE === 'cert-manager' ? 'cert-manager' : 'self';
  const port = Number(env.WEBHOOK_PORT ?? 9443);
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push('WEBHOOK_PORT: not a port');
  const checkSeconds = Number(env.WEBHOOK_CERT_CHECK_SECONDS ?? 60);
  if (!(checkSeconds > 0)) problems.push('WEBHOOK_CERT_CHECK_SECONDS: not a positive number');
  if (problems.length > 0) return { settings: undefined, problems };
  return {
    problems,
    settings: {
      sidecar: {
        image,
        version: env.SIDECAR_VERSION || imageVersion(image),
        imagePullPolicy: env.SIDECAR_IMAGE_PULL_POLICY || 'IfNotPresent',
        logLevel: env.SIDECAR_LOG_LEVEL || 'info',
        resources,
      },
      port,
      host: env.WEBHOOK_HOST ?? '0.0.0.0',
      webhookConfigName: env.WEBHOOK_CONFIG_NAME || 'reranker-lb-sidecar-injector',
      service,
      url,
      certMode,
      certSecret: env.WEBHOOK_CERT_SECRET || 'reranker-lb-webhook-tls',
      certCheckMs: checkSeconds * 1000,
    },
  };
}

/** Names the serving certificate must carry: the Service's DNS names and/or the URL's host. */
export function certificateNames(s: InjectionSettings): string[] {
  const names: string[] = [];
  if (s.service !== undefined) {
    const [name, ns] = s.service.split('.');
    names.push(`${name}.${ns}.svc`, `${name}.${ns}.svc.cluster.local`);
  }
  if (s.url !== undefined) names.push(new URL(s.url).hostname.replace(/^\[|\]$/g, ''));
  return names;
}
