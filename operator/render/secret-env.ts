/**
 * API keys never enter the ConfigMap: a secret reference renders as `os.environ/<NAME>`, and the
 * sidecar container gets NAME from the Secret (`env[].valueFrom.secretKeyRef`). The name is a pure
 * function of the reference, so the docs, the chart and the operator agree.
 */
export function secretEnvName(ref: { name: string; key: string }): string {
  const part = (s: string) =>
    s
      .toUpperCase()
      .replace(/[^A-Z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '');
  return `RERANKER_KEY_${part(ref.name)}__${part(ref.key)}`;
}

interface KeyRefs {
  readonly backends: readonly { readonly apiKeySecretRef?: { name: string; key: string } | undefined }[];
  readonly discovery: readonly { readonly apiKeySecretRef?: { name: string; key: string } | undefined }[];
  readonly redis?: { readonly passwordSecretRef?: { name: string; key: string } | undefined } | undefined;
}

/**
 * Two different references whose names fold to one variable (`rerank.team-a` and `rerank-team-a`)
 * would give one backend the other's key: each such pair, named by path, to refuse the spec.
 */
export function secretEnvConflicts(spec: KeyRefs): string[] {
  const seen = new Map<string, { path: string; ref: string }>();
  const problems: string[] = [];
  const refs = [
    ...spec.backends.map((b, i) => [`backends[${i}]`, b] as const),
    ...spec.discovery.map((d, i) => [`discovery[${i}]`, d] as const),
    ...(spec.redis?.passwordSecretRef === undefined
      ? []
      : [['redis', { apiKeySecretRef: spec.redis.passwordSecretRef }] as const]),
  ];
  for (const [path, { apiKeySecretRef: ref }] of refs) {
    if (ref === undefined) continue;
    const env = secretEnvName(ref);
    const name = `${ref.name}/${ref.key}`;
    const first = seen.get(env);
    if (first === undefined) seen.set(env, { path, ref: name });
    else if (first.ref !== name)
      problems.push(
        `${path}.${path === 'redis' ? 'passwordSecretRef' : 'apiKeySecretRef'}: ${name} and ${first.path}'s ${first.ref} both map to the variable ${env}; rename one Secret or key`,
      );
  }
  return problems;
}
