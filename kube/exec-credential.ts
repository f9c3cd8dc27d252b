/**
 * Credentials from a kubeconfig exec plugin (EKS `aws eks get-token`, GKE `gke-gcloud-auth-plugin`,
 * AKS/`kubelogin`, ...): the client.authentication.k8s.io/v1 and v1beta1 ExecCredential protocol,
 * as client-go's plugin/pkg/client/auth/exec runs it:
 * - the command runs with its args, our environment plus the kubeconfig's `env`, and
 *   KUBERNETES_EXEC_INFO (an ExecCredential naming the apiVersion, never interactive; with the
 *   cluster's details when `provideClusterInfo` is set); its stderr goes to ours;
 * - it prints an ExecCredential with `status.token` or `status.clientCertificateData` +
 *   `clientKeyData`, optionally `status.expirationTimestamp`;
 * - the result is kept until that expiry (for ever without one) and the plugin runs again after
 *   it, or after the server answered 401 (`invalidate()`); concurrent callers share one run.
 * The plugin's output is never logged or put in an error (it holds the credential); a missing
 * command names the kubeconfig's `installHint`.
 */
import { spawn } from 'node:child_process';

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;

export interface ExecConfig {
  readonly apiVersion: string;
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: readonly { name: string; value: string }[];
  readonly installHint?: string;
  readonly provideClusterInfo?: boolean;
  readonly interactiveMode?: string;
}

export interface ExecResult {
  readonly token?: string;
  readonly clientCertificateData?: string;
  readonly clientKeyData?: string;
  /** Monotonic-clock ms after which the plugin runs again; undefined: no expiry. */
  readonly expiresAt?: number;
}

export interface ExecOptions {
  /** The user's name in the kubeconfig, for messages. */
  readonly user: string;
  /** For provideClusterInfo: the cluster entry as the protocol names its fields. */
  readonly cluster?: Record<string, unknown>;
  readonly env?: NodeJS.ProcessEnv;
  /** Wall-clock ms now (expirationTimestamp is wall-clock time). */
  readonly wallNow?: () => number;
  /** How long one run may take. */
  readonly timeoutMs?: number;
}

/** The largest plugin output read; an ExecCredential with a certificate is a few KB. */
const MAX_OUTPUT_BYTES = 1024 * 1024;

export class ExecCredentialError extends Error {
  readonly code = 'EXEC_CREDENTIAL';
  constructor(message: string) {
    super(message);
    this.name = 'ExecCredentialError';
  }
}

export function validateExecConfig(exec: unknown, user: string): ExecConfig {
  const e = (exec ?? {}) as Record<string, unknown>;
  if (typeof e.command !== 'string' || e.command === '')
    throw new ExecCredentialError(`kubeconfig: user "${user}": exec.command is required`);
  if (typeof e.apiVersion !== 'string' || !(EXEC_API_VERSIONS as readonly string[]).includes(e.apiVersion)) {
    throw new ExecCredentialError(
      `kubeconfig: user "${user}": exec.apiVersion "${String(e.apiVersion ?? '')}" is not supported (${EXEC_API_VERSIONS.join(', ')})`,
    );
  }
  if (e.interactiveMode === 'Always')
    throw new ExecCredentialError(
      `kubeconfig: user "${user}": exec.interactiveMode Always needs a terminal, which the operator does not have`,
    );
  return e as unknown as ExecConfig;
}

/** Runs a plugin when its last credential expired or was refused; shares a run between callers. */
export class ExecCredential {
  readonly #exec: ExecConfig;
  readonly #o: ExecOptions;
  #current: ExecResult | undefined;
  #running: Promise<ExecResult> | undefined;
  /** Plugin runs so far. */
  runs = 0;

  constructor(exec: ExecConfig, options: ExecOptions) {
    this.#exec = exec;
    this.#o = options;
  }

  /** A credential that has not expired, running the plugin if needed. */
  async get(): Promise<ExecResult> {
    const now = (this.#o.wallNow ?? Date.now)();
    if (this.#current !== undefined && (this.#current.expiresAt === undefined || now < this.#current.expiresAt))
      return this.#current;
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    this.#current = await this.#running;
    return this.#current;
  }

  /** The server refused the credential (401): the next get() runs the plugin again. */
  invalidate(): void {
    this.#current = undefined;
  }

  async #run(): Promise<ExecResult> {
    this.runs++;
    const exec = this.#exec;
    const info = {
      apiVersion: exec.apiVersion,
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        ...(exec.provideClusterInfo === true && this.#o.cluster !== undefined ? { cluster: this.#o.cluster } : {}),
      },
    };
    const env = {
      ...(this.#o.env ?? process.env),
      ...Object.fromEntries((exec.env ?? []).map((e) => [e.name, e.value])),
      KUBERNETES_EXEC_INFO: JSON.stringify(info),
    };
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = spawn(exec.command, [...(exec.args ?? [])], {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
        timeout: this.#o.timeoutMs ?? 60_000,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      child.stdout.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_OUTPUT_BYTES) chunks.push(c);
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        const hint = exec.installHint === undefined ? '' : `; ${exec.installHint.trim()}`;
        reject(
          new ExecCredentialError(
            error.code === 'ENOENT'
              ? `exec plugin "${exec.command}" (user "${this.#o.user}") not found${hint}`
              : `exec plugin "${exec.command}" (user "${this.#o.user}") could not run: ${error.code ?? error.message}`,
          ),
        );
      });
      child.on('close', (code, signal) => {
        if (code === 0) resolve(Buffer.concat(chunks).toString('utf8'));
        else
          reject(
            new ExecCredentialError(
              `exec plugin "${exec.command}" (user "${this.#o.user}") failed: ${signal === null ? `exit status ${code}` : `killed by ${signal}`}`,
            ),
          );
      });
    });
    return this.#parse(stdout);
  }

  /** The plugin's answer; errors describe what is wrong, never what it printed. */
  #parse(stdout: string): ExecResult {
    const what = `exec plugin "${this.#exec.command}" (user "${this.#o.user}")`;
    let cred: { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
    try {
      cred = JSON.parse(stdout) as typeof cred;
    } catch {
      throw new ExecCredentialError(`${what} printed no ExecCredential JSON (${stdout.length} bytes)`);
    }
    if (cred?.kind !== 'ExecCredential' || cred.apiVersion !== this.#exec.apiVersion)
      throw new ExecCredentialError(
        `${what} answered kind "${String(cred?.kind)}" apiVersion "${String(cred?.apiVersion)}", want ExecCredential ${this.#exec.apiVersion}`,
      );
    const status = cred.status ?? {};
    const text = (key: string) =>
      typeof status[key] === 'string' && status[key] !== '' ? (status[key] as string) : undefined;
    const token = text('token');
    const clientCertificateData = text('clientCertificateData');
    const clientKeyData = text('clientKeyData');
    if ((clientCertificateData === undefined) !== (clientKeyData === undefined))
      throw new ExecCredentialError(`${what}: status.clientCertificateData and status.clientKeyData come together`);
    if (token === undefined && clientCertificateData === undefined)
      throw new ExecCredentialError(`${what}: status has neither token nor clientCertificateData`);
    const expiry = text('expirationTimestamp');
    const expiresAt = expiry === undefined ? undefined : Date.parse(expiry);
    if (expiresAt !== undefined && Number.isNaN(expiresAt))
      throw new ExecCredentialError(`${what}: status.expirationTimestamp is not a time`);
    return { token, clientCertificateData, clientKeyData, expiresAt };
  }
}
