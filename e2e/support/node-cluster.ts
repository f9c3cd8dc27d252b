/**
 * The local single-node cluster (e2e/node/up.sh: control plane, kubelet, containerd, kube-proxy,
 * CoreDNS on 198.18.201.1, pods in 198.19.0.0/24) driven from tests and from make cluster's demo.
 * `start` builds what is missing (binaries, images), brings the node up with the images imported;
 * `stop` runs e2e/node/down.sh, which undoes every recorded change.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cluster.ts';

export const NODE_DIR = process.env.RRLB_NODE_DIR ?? '/tmp/rrlb-node';
/** The tag images/build.sh gives the images (IMAGE_TAG, else package.json's version). */
export const IMAGE_TAG =
  process.env.IMAGE_TAG ??
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function run(
  command: string,
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      input: options.input,
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 120_000,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(
      `${command} ${args.join(' ')}: ${e.stderr ?? ''}${e.stdout ?? ''}${e.stderr || e.stdout ? '' : e.message}`,
    );
  }
}

export class NodeCluster {
  readonly kubeconfig = join(NODE_DIR, 'cp/kubeconfig-admin');
  readonly tools = run(join(ROOT, 'e2e/kube/tools.sh'), []).trim().split('\n').pop()!;

  /** Builds the images (unchanged ones are reused) and starts the node with them imported. */
  static start(images: readonly string[] = ['sidecar', 'operator', 'fake-backend']): NodeCluster {
    run(join(ROOT, 'images/build.sh'), [...images, 'pause'], { timeoutMs: 900_000 });
    const archives = images.map((i) => join(ROOT, `.cache/images/oci/${i}-${IMAGE_TAG}.tar`));
    run(join(ROOT, 'e2e/node/up.sh'), archives, { timeoutMs: 900_000 });
    return new NodeCluster();
  }

  stop(): void {
    run(join(ROOT, 'e2e/node/down.sh'), [], { timeoutMs: 180_000 });
  }

  kubectl(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): string {
    return run(join(this.tools, 'kubectl'), ['--kubeconfig', this.kubeconfig, ...args], options);
  }

  helm(args: readonly string[], scratch: string): string {
    const env = {
      ...process.env,
      HELM_CACHE_HOME: join(scratch, 'helm-cache'),
      HELM_CONFIG_HOME: join(scratch, 'helm-config'),
      HELM_DATA_HOME: join(scratch, 'helm-data'),
    };
    return run(join(this.tools, 'helm'), ['--kubeconfig', this.kubeconfig, ...args], { env, timeoutMs: 300_000 });
  }

  apply(manifests: unknown): string {
    const docs = Array.isArray(manifests) ? manifests : [manifests];
    return this.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], {
      input: docs.map((d) => JSON.stringify(d)).join('\n---\n'),
    });
  }

  getJson<T = any>(args: readonly string[]): T {
    return JSON.parse(this.kubectl(['get', ...args, '-o', 'json'])) as T;
  }

  /** containerd's CLI on the node's socket, in the kubelet's namespace. */
  ctr(args: readonly string[]): string {
    return run('ctr', ['--address', join(NODE_DIR, 'containerd/containerd.sock'), '-n', 'k8s.io', ...args]);
  }
}
