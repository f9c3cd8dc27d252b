/**
 * make cluster's last step, on the node e2e/node/up.sh started: the chart (2 operator replicas
 * serving namespace rrlb-demo), three fake-reranker backends, the RerankerPool "demo" discovering
 * them, and an app pod with the sidecar; then what to type next.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/cluster.ts';
import { IMAGE_TAG, NodeCluster } from '../support/node-cluster.ts';
import { APP, app, backends, pool, POOL } from './workloads.ts';

const NAMESPACE = 'rrlb-demo';
const SYSTEM = 'rrlb-system';
const started = Date.now();
const cluster = new NodeCluster();
const scratch = mkdtempSync(join(tmpdir(), 'rrlb-demo-'));
try {
  for (const ns of [SYSTEM, NAMESPACE]) cluster.kubectl(['create', 'namespace', ns]);
  cluster.helm(
    [
      'install',
      'rrlb',
      join(ROOT, 'charts/reranker-lb'),
      '-n',
      SYSTEM,
      '--set',
      'operator.replicas=2',
      '--set',
      `operator.namespaces={${NAMESPACE}}`,
      '--set',
      `operator.image.tag=${IMAGE_TAG}`,
      '--wait',
      '--timeout',
      '120s',
    ],
    scratch,
  );
  cluster.apply([...backends(NAMESPACE, 3), pool(NAMESPACE), ...app(NAMESPACE)]);
  cluster.kubectl(['rollout', 'status', `deployment/${APP}`, '-n', NAMESPACE, '--timeout', '120s'], {
    timeoutMs: 130_000,
  });
  cluster.kubectl(['wait', '--for=condition=Ready', `rerankerpool/${POOL}`, '-n', NAMESPACE, '--timeout', '60s'], {
    timeoutMs: 70_000,
  });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const call = `curl -s localhost:8000/v1/rerank -H 'content-type: application/json' -d '{"query":"capital of France","documents":["Paris is the capital of France.","Berlin is in Germany."]}'`;
process.stdout.write(`
The chart and the demo are running (${Math.round((Date.now() - started) / 1000)} s):
${cluster.kubectl(['get', 'rrp', '-n', NAMESPACE])}
  export KUBECONFIG=${cluster.kubeconfig}
  export PATH=${cluster.tools}:$PATH          # kubectl and helm
  kubectl get rrp,pods -n ${NAMESPACE} -o wide
  kubectl get pods -n ${SYSTEM}              # the operator: 2 replicas, one holds the Lease
  # a call from inside the app pod, through its sidecar to a backend pod IP:
  kubectl exec -n ${NAMESPACE} deploy/${APP} -c app -- node -e "fetch('http://localhost:8000/v1/rerank',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({query:'capital of France',documents:['Paris is the capital of France.','Berlin is in Germany.']})}).then(r=>r.text()).then(console.log)"
  # or from this machine, by pod IP (the host routes 198.19.0.0/24):  POD=$(kubectl get pod -n ${NAMESPACE} -l app=${APP} -o jsonpath='{.items[0].status.podIP}')
  #   ${call.replace('localhost', '$POD')}
  kubectl scale deploy/fake-reranker -n ${NAMESPACE} --replicas 5   # then: curl -s $POD:8000/lb/backends
  make cluster-down                          # undoes everything make cluster changed
`);
