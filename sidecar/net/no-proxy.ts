/** Internal traffic must never go through a system proxy: these always join NO_PROXY/no_proxy. */
export const NO_PROXY_ENTRIES = [
  'localhost',
  '127.0.0.1',
  '::1',
  '0.0.0.0',
  '.local',
  '.internal',
  '.svc',
  '.cluster.local',
] as const;

/** Merges the bypass entries into a NO_PROXY value, keeping existing entries and their order. Pure. */
export function mergeNoProxy(...existing: (string | undefined)[]): string {
  const entries: string[] = [];
  for (const value of [...existing, NO_PROXY_ENTRIES.join(',')]) {
    for (const raw of (value ?? '').split(',')) {
      const entry = raw.trim();
      if (entry !== '' && !entries.includes(entry)) entries.push(entry);
    }
  }
  return entries.join(',');
}

/** Sets both spellings to the same merged value. Called once, in main. */
export function applyProxyBypass(env: NodeJS.ProcessEnv): string {
  const merged = mergeNoProxy(env.NO_PROXY, env.no_proxy);
  env.NO_PROXY = merged;
  env.no_proxy = merged;
  return merged;
}
