/**
 * API keys never enter the ConfigMap: a secret reference renders as `os.environ/<NAME>`, and the
 * sidecar container gets NAME from the Secret (`env[].valueFrom.secretKeyRef`). The name is a pure
 * function of the reference, so the docs, the chart and the operator agree.
 */
export function secretEnvName(ref: { name: string; key: string }): string {
  const part = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return `RERANKER_KEY_${part(ref.name)}__${part(ref.key)}`;
}
