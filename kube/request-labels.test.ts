import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeRequest, type HttpMethod } from './request-labels.ts';

test('a request is named by verb and plural, never by name or namespace', () => {
  const cases: [HttpMethod, string, { contentType?: string; watch?: boolean }, string][] = [
    ['GET', '/api/v1/namespaces/ns/configmaps/search-reranker-config', {}, 'get configmaps'],
    ['GET', '/api/v1/namespaces/ns/configmaps', {}, 'list configmaps'],
    ['GET', '/api/v1/pods', {}, 'list pods'],
    ['GET', '/api/v1/pods', { watch: true }, 'watch pods'],
    ['GET', '/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices', { watch: true }, 'watch endpointslices'],
    [
      'PATCH',
      '/api/v1/namespaces/ns/configmaps/search-reranker-config',
      { contentType: 'application/apply-patch+yaml' },
      'apply configmaps',
    ],
    [
      'PATCH',
      '/apis/reranker.dev/v1alpha1/namespaces/ns/rerankerpools/search/status',
      { contentType: 'application/apply-patch+yaml' },
      'apply rerankerpools',
    ],
    [
      'PATCH',
      '/apis/reranker.dev/v1alpha1/namespaces/ns/rerankerpools/search/status',
      { contentType: 'application/merge-patch+json' },
      'patch rerankerpools',
    ],
    [
      'PATCH',
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/rrlb',
      { contentType: 'application/strategic-merge-patch+json' },
      'patch mutatingwebhookconfigurations',
    ],
    ['POST', '/api/v1/namespaces/ns/events', {}, 'create events'],
    ['PUT', '/apis/coordination.k8s.io/v1/namespaces/ns/leases/reranker-lb-operator', {}, 'update leases'],
    ['DELETE', '/api/v1/namespaces/ns/secrets/certs', {}, 'delete secrets'],
    ['GET', '/api/v1/namespaces/ns', {}, 'get namespaces'],
    ['GET', '/api/v1/namespaces', {}, 'list namespaces'],
    ['GET', '/version', {}, 'list other'],
  ];
  for (const [method, path, options, want] of cases) {
    const { verb, resource } = describeRequest(method, path, options);
    assert.equal(`${verb} ${resource}`, want, `${method} ${path}`);
  }
});
