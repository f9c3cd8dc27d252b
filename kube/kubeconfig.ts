/**
 * Where the API server is and how to authenticate, without @kubernetes/client-node: importing
 * that package loads its whole generated API (about 85 MB of RSS in every operator and sidecar)
 * for the few lines used here. Same search order as client-go and client-node: $KUBECONFIG
 * (colon-separated files, merged), ~/.kube/config, then the pod's service account.
 * Supported credentials: bearer token (inline or file), client certificate and key, basic auth,
 * and exec plugins (client.authentication.k8s.io/v1 and v1beta1: kube/exec-credential.ts), which
 * cloud clusters use (EKS, GKE, AKS/kubelogin). Legacy auth providers are refused with a message.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { load } from 'js-yaml';
import { Agent, type Dispatcher } from 'undici';
import { ExecCredential, validateExecConfig } from './exec-credential.ts';

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
  const merged: Required<Omit<KubeconfigFile, 'current-context'>> & KubeconfigFile = {
    clusters: [],
    users: [],
    contexts: [],
  };
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

export interface LoadOptions {
  /** Wall-clock ms now, for exec credentials' expiry (tests). */
  readonly wallNow?: () => number;
}

function fromFiles(paths: readonly string[], env: NodeJS.ProcessEnv, options: LoadOptions): KubeConnection {
  const { merged, dirOf } = readFiles(paths);
  const context = merged.contexts?.find((c) => c.name === merged['current-context'])?.context as
    | { cluster?: string; user?: string }
    | undefined;
  if (context === undefined)
    throw new Error(`kubeconfig: current-context "${merged['current-context'] ?? ''}" not found`);
  const clusterItem = merged.clusters?.find((c) => c.name === context.cluster);
  const userItem = merged.users?.find((u) => u.name === context.user);
  const cluster = (clusterItem?.cluster ?? {}) as Record<string, unknown>;
  const user = (userItem?.user ?? {}) as Record<string, unknown>;
  if (typeof cluster.server !== 'string')
    throw new Error(`kubeconfig: cluster "${context.cluster ?? ''}" has no server`);
  if (user['auth-provider'] !== undefined)
    throw new Error(
      `kubeconfig: user "${context.user ?? ''}" uses a legacy auth provider, which is not supported; use its exec plugin (e.g. gke-gcloud-auth-plugin, kubelogin), a token or a client certificate`,
    );
  const fileOf = (item: object | undefined, value: unknown) =>
    typeof value !== 'string'
      ? undefined
      : readFileSync(isAbsolute(value) ? value : join(dirOf.get(item!) ?? '.', value));
  const dataOf = (value: unknown) => (typeof value === 'string' ? Buffer.from(value, 'base64') : undefined);
  const ca = dataOf(cluster['certificate-authority-data']) ?? fileOf(clusterItem, cluster['certificate-authority']);
  const cert = dataOf(user['client-certificate-data']) ?? fileOf(userItem, user['client-certificate']);
  const key = dataOf(user['client-key-data']) ?? fileOf(userItem, user['client-key']);
  const tlsServerName = typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined;
  const server = cluster.server.replace(/\/+$/, '');
  const tls = { ca, servername: tlsServerName, rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true };
  if (user.exec !== undefined) {
    const name = context.user ?? '';
    const exec = validateExecConfig(user.exec, name);
    // A command with a path separator is relative to its kubeconfig file, as in client-go.
    const command =
      exec.command.includes('/') && !isAbsolute(exec.command)
        ? join(dirOf.get(userItem!) ?? '.', exec.command)
        : exec.command;
    const clusterInfo = {
      server,
      'tls-server-name': tlsServerName,
      'insecure-skip-tls-verify': cluster['insecure-skip-tls-verify'] === true,
      'certificate-authority-data': ca?.toString('base64'),
    };
    return execConnection(
      server,
      tls,
      new ExecCredential({ ...exec, command }, { user: name, cluster: clusterInfo, env, wallNow: options.wallNow }),
    );
  }
  let authorization: () => string | undefined = () => undefined;
  if (typeof user.token === 'string') authorization = () => `Bearer ${user.token as string}`;
  else if (typeof user.tokenFile === 'string') {
    const token = tokenFromFile(
      isAbsolute(user.tokenFile) ? user.tokenFile : join(dirOf.get(userItem!) ?? '.', user.tokenFile),
    );
    authorization = () => `Bearer ${token()}`;
  } else if (typeof user.username === 'string')
    authorization = () =>
      `Basic ${Buffer.from(`${user.username as string}:${String(user.password ?? '')}`).toString('base64')}`;
  return { server, dispatcher: new Agent({ connect: { ...tls, cert, key } }), authorization };
}

/**
 * A connection whose credentials come from an exec plugin: a token as the Authorization header,
 * or a client certificate (a new dispatcher whenever the plugin hands out a new one).
 */
function execConnection(
  server: string,
  tls: { ca?: Buffer; servername?: string; rejectUnauthorized: boolean },
  plugin: ExecCredential,
): KubeConnection {
  let agent = new Agent({ connect: tls });
  let presented: string | undefined;
  return {
    server,
    get dispatcher() {
      return agent;
    },
    async authorization() {
      const credential = await plugin.get();
      if (
        credential.clientCertificateData !== undefined &&
        credential.clientCertificateData + credential.clientKeyData !== presented
      ) {
        const old = agent;
        agent = new Agent({
          connect: { ...tls, cert: credential.clientCertificateData, key: credential.clientKeyData },
        });
        presented = credential.clientCertificateData + credential.clientKeyData;
        void old.close(); // requests in flight finish on it
      }
      return credential.token === undefined ? undefined : `Bearer ${credential.token}`;
    },
    refresh() {
      plugin.invalidate();
      return true;
    },
  };
}

/** $KUBECONFIG, else ~/.kube/config, else the in-cluster service account. */
export function loadKubeConnection(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): KubeConnection {
  const listed = (env.KUBECONFIG ?? '').split(':').filter((p) => p !== '' && existsSync(p));
  if (listed.length > 0) return fromFiles(listed, env, options);
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromFiles([home], env, options);
  const pod = inCluster(env);
  if (pod !== undefined) return pod;
  throw new Error('no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a pod');
}
