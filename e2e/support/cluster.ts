/**
 * A real control plane on loopback for e2e tests: etcd + kube-apiserver (+ kube-controller-manager
 * on request), built from pinned Go modules by e2e/kube/build.sh. Authentication by static tokens,
 * so tests can act as any user or service account; RBAC authorization, as in a real cluster.
 * Everything it starts is stopped and removed by `stop()`, also when a test fails.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { freePort } from '../../test/support/ports.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function kubeBinaries(): { bin: string; tools: string } {
  const bin = execFileSync(join(ROOT, 'e2e/kube/build.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop()!;
  const tools = execFileSync(join(ROOT, 'e2e/kube/tools.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop()!;
  return { bin, tools };
}

export interface User {
  readonly name: string;
  readonly token: string;
  readonly groups: readonly string[];
}

export const ADMIN: User = { name: 'e2e-admin', token: 'e2e-admin-token', groups: ['system:masters'] };

export function serviceAccountUser(namespace: string, name: string): User {
  return {
    name: `system:serviceaccount:${namespace}:${name}`,
    token: `sa-${namespace}-${name}-token`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}

export class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'rrlb-e2e-'));
  readonly users: User[];
  readonly bin: string;
  readonly tools: string;
  url = '';
  #etcd: ChildProcess | undefined;
  #apiserver: ChildProcess | undefined;
  #controllerManager: ChildProcess | undefined;
  #apiserverArgs: string[] = [];
  #logs: string[] = [];
  readonly #agent = new Agent({ connect: { rejectUnauthorized: false } });

  constructor(users: readonly User[]) {
    this.users = [ADMIN, ...users];
    const { bin, tools } = kubeBinaries();
    this.bin = bin;
    this.tools = tools;
  }

  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#startOnce();
        return;
      } catch (error) {
        // A port freePort() found free can be taken by a test beside this one before etcd or the
        // apiserver binds it: start again on new ports.
        if (attempt >= 3 || !/address already in use/.test(String(error))) throw error;
        await this.#kill([this.#apiserver, this.#etcd]);
        rmSync(join(this.dir, 'etcd'), { recursive: true, force: true });
        this.#logs = [];
      }
    }
  }

  async #startOnce(): Promise<void> {
    const etcdPort = await freePort();
    const peerPort = await freePort();
    const apiPort = await freePort();
    this.#etcd = this.#spawn('etcd', join(this.bin, 'etcd'), [
      '--data-dir',
      join(this.dir, 'etcd'),
      '--name',
      'e2e',
      '--listen-client-urls',
      `http://127.0.0.1:${etcdPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${etcdPort}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-cluster',
      `e2e=http://127.0.0.1:${peerPort}`,
      '--log-level',
      'error',
    ]);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(this.dir, 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }));
    writeFileSync(join(this.dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(
      join(this.dir, 'tokens.csv'),
      this.users.map((u, i) => `${u.token},${u.name},uid-${i},"${u.groups.join(',')}"`).join('\n') + '\n',
    );
    this.#apiserverArgs = [
      '--etcd-servers',
      `http://127.0.0.1:${etcdPort}`,
      '--secure-port',
      String(apiPort),
      '--bind-address',
      '127.0.0.1',
      '--advertise-address',
      '127.0.0.1',
      '--endpoint-reconciler-type',
      'none',
      '--cert-dir',
      join(this.dir, 'certs'),
      '--token-auth-file',
      join(this.dir, 'tokens.csv'),
      '--authorization-mode',
      'RBAC',
      '--service-account-issuer',
      'https://kubernetes.default.svc',
      '--service-account-key-file',
      join(this.dir, 'sa.pub'),
      '--service-account-signing-key-file',
      join(this.dir, 'sa.key'),
      '--service-cluster-ip-range',
      '10.96.0.0/16',
      '--disable-admission-plugins',
      'ServiceAccount',
      '--allow-privileged=true',
      '--v',
      '0',
    ];
    this.url = `https://127.0.0.1:${apiPort}`;
    await this.#startApiserver();
  }

  async #startApiserver(): Promise<void> {
    this.#apiserver = this.#spawn('kube-apiserver', join(this.bin, 'kube-apiserver'), this.#apiserverArgs);
    const until = Date.now() + 90_000;
    while (Date.now() < until) {
      if (this.#apiserver.exitCode !== null)
        throw new Error(`kube-apiserver exited: ${this.#logs.slice(-20).join('')}`);
      if (this.#etcd !== undefined && this.#etcd.exitCode !== null)
        throw new Error(`etcd exited: ${this.#logs.slice(-20).join('')}`);
      try {
        const res = await request(`${this.url}/readyz`, {
          dispatcher: this.#agent,
          headers: { authorization: `Bearer ${ADMIN.token}` },
        });
        const text = await res.body.text();
        if (res.statusCode === 200 && text.trim() === 'ok') return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`kube-apiserver not ready in time: ${this.#logs.slice(-20).join('')}`);
  }

  /** The running kube-apiserver's process id (scale runs sample its CPU and RSS). */
  get apiserverPid(): number {
    return this.#apiserver!.pid!;
  }

  /** Kills the apiserver (dropping every watch) and starts it again on the same port and data. */
  async restartApiserver(downMs = 1000): Promise<void> {
    await this.#kill([this.#apiserver]);
    await new Promise((r) => setTimeout(r, downMs));
    await this.#startApiserver();
  }

  #spawn(name: string, command: string, args: string[]): ChildProcess {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      this.#logs.push(`[${name}] ${d.toString()}`);
      if (this.#logs.length > 400) this.#logs.splice(0, 200);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return child;
  }

  /** A kubeconfig file for `user`, trusting the apiserver's own serving certificate. */
  kubeconfig(user: User = ADMIN): string {
    const path = join(this.dir, `kubeconfig-${user.token}`);
    const ca = readFileSync(join(this.dir, 'certs', 'apiserver.crt')).toString('base64');
    writeFileSync(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'e2e', cluster: { server: this.url, 'certificate-authority-data': ca } }],
        users: [{ name: user.name, user: { token: user.token } }],
        contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: user.name } }],
        'current-context': 'e2e',
      }),
    );
    return path;
  }

  /** Runs kubectl as `user`; returns stdout, throws with stderr on failure. */
  kubectl(args: readonly string[], options: { user?: User; input?: string } = {}): string {
    try {
      return execFileSync(join(this.tools, 'kubectl'), ['--kubeconfig', this.kubeconfig(options.user), ...args], {
        encoding: 'utf8',
        input: options.input,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string };
      throw new Error(`kubectl ${args.join(' ')}: ${e.stderr ?? ''}${e.stdout ?? ''}`);
    }
  }

  /** kubectl that is expected to fail; returns its error output. */
  kubectlFails(args: readonly string[], options: { user?: User; input?: string } = {}): string {
    try {
      this.kubectl(args, options);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error(`kubectl ${args.join(' ')} succeeded, but a failure was expected`);
  }

  apply(manifest: unknown, user: User = ADMIN): string {
    const docs = Array.isArray(manifest) ? manifest : [manifest];
    return this.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], {
      user,
      input: docs.map((d) => JSON.stringify(d)).join('\n---\n'),
    });
  }

  getJson<T = any>(args: readonly string[]): T {
    return JSON.parse(this.kubectl(['get', ...args, '-o', 'json'])) as T;
  }

  /** `controllers`: kube-controller-manager's --controllers (the webhook suite adds deployment,replicaset). */
  async startControllerManager(
    controllers = 'endpointslice,endpointslicemirroring,garbagecollector,namespace,serviceaccount',
  ): Promise<void> {
    this.#controllerManager = this.#spawn('kube-controller-manager', join(this.bin, 'kube-controller-manager'), [
      '--kubeconfig',
      this.kubeconfig(ADMIN),
      '--leader-elect=false',
      '--controllers',
      controllers,
      '--service-account-private-key-file',
      join(this.dir, 'sa.key'),
      '--bind-address',
      '127.0.0.1',
      '--secure-port',
      String(await freePort()),
      '--v',
      '0',
    ]);
  }

  async #kill(children: readonly (ChildProcess | undefined)[]): Promise<void> {
    for (const child of children) {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
  }

  logs(): string {
    return this.#logs.join('');
  }

  async stop(): Promise<void> {
    await this.#kill([this.#controllerManager, this.#apiserver, this.#etcd]);
    await this.#agent.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
