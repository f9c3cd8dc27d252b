/**
 * Where the API server is and how to authenticate, without @kubernetes/client-node: importing
 * that package loads its whole generated API (about 85 MB of RSS in every operator and sidecar)
 * for the few lines used here. Same search order as client-go and client-node: $KUBECONFIG
 * (colon-separated files, merged), ~/.kube/config, then the pod's service account.
 * Supported credentials: bearer token (inline or file), client certificate and key, basic auth.
 * exec plugins and auth providers are refused with a clear message.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { load } from 'js-yaml';
import { Agent, type Dispatcher } from 'undici';

export interface KubeConnection {
  /** e.g. https://10.96.0.1:443 (no trailing slash). */
  readonly server: string;
  /** TLS and connections; read after `authorization()`, which may change it (an exec plugin's client certificate). */
  readonly dispatcher: Dispatcher;
  /** The Authorization header value, re-read for token files (service account tokens rotate), or run by an exec plugin. */
  authorization(): string | undefined | Promise<string | undefined>;
  /** After a 401: forget cached credentials; true when asking again may help (an exec plugin runs again). */
  refresh?(): boolean;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** client-go re-reads a token file at most once a minute. */
const TOKEN_REREAD_MS = 60_000;

interface Named<T> {
  name: string;
  [key: string]: T | string;
}
interface KubeconfigFile {
  clusters?: Named<Record<string, unknown>>[];
  users?: Named<Record<string, unknown>>[];
  contexts?: Named<Record<string, unknown>>[];
  'current-context'?: string;
}

function tokenFromFile(path: string): () => string {
  let token = '';
  let readAt = -Infinity;
  let mtime = 0;
  return function currentToken() {
    const now = Date.now();
    if (now - readAt >= TOKEN_REREAD_MS) {
      readAt = now;
      const changed = statSync(path).mtimeMs;
      if (token === '' || changed !== mtime) {
        token = readFileSync(path, 'utf8').trim();
        mtime = changed;
      }
    }
    return token;
  };
}

function inCluster(env: NodeJS.ProcessEnv): KubeConnection | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (host === undefined || !existsSync(join(SA_DIR, 'token'))) return undefined;
  const token = tokenFromFile(join(SA_DIR, 'token'));
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`,
    dispatcher: new Agent({ connect: { ca: readFileSync(join(SA_DIR, 'ca.crt')) } }),
    authorization: () => `Bearer ${token()}`,
  };
}

function readFiles(paths: readonly string[]): { merged: KubeconfigFile; dirOf: Map<object, string> } {
  const merged: Required<Omit<KubeconfigFile, 'current-context'>> & KubeconfigFile = { clusters: [], users: [], contexts: [] };
  const dirOf = new Map<object, string>();
  for (const path of paths) {
    const file = (load(readFileSync(path, 'utf8')) ?? {}) as KubeconfigFile;
    for (const kind of ['clusters', 'users', 'contexts'] as const) {
      for (const item of file[kind] ?? []) {
        if (merged[kind].some((m) => m.name === item.name)) continue; // the first file wins, as in kubectl
        merged[kind].push(item);
        dirOf.set(item, dirname(path));
      }
    }
    merged['current-context'] ??= file['current-context'];
  }
  return { merged, dirOf };
}

function fromFiles(paths: readonly string[]): KubeConnection {
  const { merged, dirOf } = readFiles(paths);
  const context = merged.contexts?.find((c) => c.name === merged['current-context'])?.context as { cluster?: string; user?: string } | undefined;
  if (context === undefined) throw new Error(`kubeconfig: current-context "${merged['current-context'] ?? ''}" not found`);
  const clusterItem = merged.clusters?.find((c) => c.name === context.cluster);
  const userItem = merged.users?.find((u) => u.name === context.user);
  const cluster = (clusterItem?.cluster ?? {}) as Record<string, unknown>;
  const user = (userItem?.user ?? {}) as Record<string, unknown>;
  if (typeof cluster.server !== 'string') throw new Error(`kubeconfig: cluster "${context.cluster ?? ''}" has no server`);
  if (user.exec !== undefined || user['auth-provider'] !== undefined) throw new Error(`kubeconfig: user "${context.user ?? ''}" needs an exec plugin or auth provider, which is not supported; use a token or client certificate`);
  const fileOf = (item: object | undefined, value: unknown) => (typeof value !== 'string' ? undefined : readFileSync(isAbsolute(value) ? value : join(dirOf.get(item!) ?? '.', value)));
  const dataOf = (value: unknown) => (typeof value === 'string' ? Buffer.from(value, 'base64') : undefined);
  const ca = dataOf(cluster['certificate-authority-data']) ?? fileOf(clusterItem, cluster['certificate-authority']);
  const cert = dataOf(user['client-certificate-data']) ?? fileOf(userItem, user['client-certificate']);
  const key = dataOf(user['client-key-data']) ?? fileOf(userItem, user['client-key']);
  const tlsServerName = typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined;
  let authorization: () => string | undefined = () => undefined;
  if (typeof user.token === 'string') authorization = () => `Bearer ${user.token as string}`;
  else if (typeof user.tokenFile === 'string') {
    const token = tokenFromFile(isAbsolute(user.tokenFile) ? user.tokenFile : join(dirOf.get(userItem!) ?? '.', user.tokenFile));
    authorization = () => `Bearer ${token()}`;
  } else if (typeof user.username === 'string') authorization = () => `Basic ${Buffer.from(`${user.username as string}:${String(user.password ?? '')}`).toString('base64')}`;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    dispatcher: new Agent({ connect: { ca, cert, key, servername: tlsServerName, rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true } }),
    authorization,
  };
}

/** $KUBECONFIG, else ~/.kube/config, else the in-cluster service account. */
export function loadKubeConnection(env: NodeJS.ProcessEnv = process.env): KubeConnection {
  const listed = (env.KUBECONFIG ?? '').split(':').filter((p) => p !== '' && existsSync(p));
  if (listed.length > 0) return fromFiles(listed);
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromFiles([home]);
  const pod = inCluster(env);
  if (pod !== undefined) return pod;
  throw new Error('no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a pod');
}
