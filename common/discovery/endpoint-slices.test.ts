import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { discoverEndpoints, slicesDigest, type EndpointSlice } from './endpoint-slices.ts';

function slice(
  name: string,
  service: string,
  endpoints: EndpointSlice['endpoints'],
  ports = [{ name: 'http', port: 8080 }],
  rv = '1',
): EndpointSlice {
  return {
    metadata: { name, resourceVersion: rv, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports,
    endpoints,
  };
}

type Conditions = { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
const ep = (ip: string, pod: string, conditions: Conditions = { ready: true }) => ({
  addresses: [ip],
  conditions,
  targetRef: { kind: 'Pod', name: pod },
});
const entry = { service: 'tei', portName: 'http', scheme: 'http' } as const;

describe('discovery from EndpointSlices', () => {
  test('each address becomes a backend named after its pod, with its condition as its state', () => {
    const found = discoverEndpoints(entry, [
      slice('tei-1', 'tei', [
        ep('198.18.0.3', 'tei-b'),
        ep('198.18.0.2', 'tei-a'),
        ep('198.18.0.4', 'tei-c', { ready: false }),
        ep('198.18.0.5', 'tei-d', { ready: false, serving: true, terminating: true }),
        ep('198.18.0.6', 'tei-e', { ready: false, serving: false, terminating: true }),
      ]),
      slice('other', 'other-svc', [ep('198.18.0.9', 'x')]),
    ]);
    assert.deepEqual(
      found.map((e) => [e.name, e.apiBase, e.state, e.ready]),
      [
        ['tei/tei-a', 'http://198.18.0.2:8080', 'ready', true],
        ['tei/tei-b', 'http://198.18.0.3:8080', 'ready', true],
        ['tei/tei-c', 'http://198.18.0.4:8080', 'not-ready', false],
        ['tei/tei-d', 'http://198.18.0.5:8080', 'terminating', false],
        ['tei/tei-e', 'http://198.18.0.6:8080', 'not-ready', false],
      ],
    );
  });

  test('unset conditions read as kube-proxy reads them: ready nil is ready, serving nil is serving', () => {
    const found = discoverEndpoints(entry, [
      slice('s', 'tei', [ep('fd00::7', 'p', { ready: null }), ep('198.18.0.8', 'q', { terminating: true })]),
    ]);
    assert.deepEqual(
      found.map((e) => [e.apiBase, e.state]),
      [
        ['http://[fd00::7]:8080', 'ready'],
        ['http://198.18.0.8:8080', 'terminating'],
      ],
    );
  });

  test('a slice without the named port contributes nothing; during a handover the more available state wins', () => {
    assert.deepEqual(
      discoverEndpoints(entry, [slice('s', 'tei', [ep('198.18.0.2', 'p')], [{ name: 'grpc', port: 9000 }])]),
      [],
    );
    const handover = discoverEndpoints(entry, [
      slice('a', 'tei', [ep('198.18.0.2', 'p', { ready: false })]),
      slice('b', 'tei', [ep('198.18.0.2', 'p')]),
    ]);
    assert.deepEqual(
      handover.map((e) => e.state),
      ['ready'],
    );
  });

  test("the digest follows the slices' names and resourceVersions, in any order, of the named Services only", () => {
    const a = slice('tei-a', 'tei', [], undefined, '10');
    const b = slice('tei-b', 'tei', [], undefined, '11');
    const other = slice('x', 'other', [], undefined, '12');
    assert.equal(slicesDigest(['tei'], [a, b, other]), slicesDigest(['tei'], [b, a]));
    assert.notEqual(
      slicesDigest(['tei'], [a, b]),
      slicesDigest(['tei'], [a, slice('tei-b', 'tei', [], undefined, '13')]),
    );
    assert.notEqual(slicesDigest(['tei'], [a, b]), slicesDigest(['tei', 'other'], [a, b, other]));
  });
});
