/** helm from e2e/kube/tools.sh as the cluster's admin, with its caches in a scratch folder. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ADMIN, type Cluster } from './cluster.ts';

export function helm(cluster: Cluster, scratch: string, args: readonly string[]): string {
  try {
    return execFileSync(join(cluster.tools, 'helm'), ['--kubeconfig', cluster.kubeconfig(ADMIN), ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(scratch, 'helm-cache'),
        HELM_CONFIG_HOME: join(scratch, 'helm-config'),
        HELM_DATA_HOME: join(scratch, 'helm-data'),
      },
    });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string };
    throw new Error(`helm ${args.join(' ')}: ${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}
