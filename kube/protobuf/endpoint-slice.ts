/**
 * A discovery.k8s.io/v1 EndpointSlice message decoded into the JSON shape discovery reads
 * (common/discovery/endpoint-slices.ts), with only the fields a sidecar keeps: metadata name,
 * namespace, resourceVersion and labels; addressType; each endpoint's addresses, conditions and
 * targetRef name; each port's name and number. Everything else (managedFields, uid, nodeName,
 * zone, hints, ...) is skipped unread. Field numbers from k8s.io/api discovery/v1 and
 * apimachinery meta/v1 generated.proto:
 *   EndpointSlice {metadata = 1, endpoints = 2, ports = 3, addressType = 4}
 *   ObjectMeta {name = 1, namespace = 3, resourceVersion = 6, labels = 11 (map)}
 *   Endpoint {addresses = 1, conditions = 2, targetRef = 4}   ObjectReference {name = 3}
 *   EndpointConditions {ready = 1, serving = 2, terminating = 3}   EndpointPort {name = 1, port = 3}
 * As in the JSON the apiserver writes: an empty name, namespace or resourceVersion is absent
 * (`omitempty`), and a condition or port name is present exactly when the server set it.
 */
import type { EndpointSlice } from '../../common/discovery/endpoint-slices.ts';
import { type Reader, readFields, readStringMapEntry, WIRE_BYTES, WIRE_VARINT } from './wire.ts';

type Metadata = EndpointSlice['metadata'];
type Endpoint = NonNullable<EndpointSlice['endpoints']>[number];
type Conditions = NonNullable<Endpoint['conditions']>;
type Port = NonNullable<EndpointSlice['ports']>[number];

export function decodeEndpointSlice(message: Uint8Array): EndpointSlice {
  let metadata: Metadata = { name: '' };
  let addressType: string | undefined;
  const endpoints: Endpoint[] = [];
  const ports: Port[] = [];
  readFields(message, (r, field, wire) => {
    if (wire !== WIRE_BYTES) return false;
    if (field === 1) metadata = decodeMetadata(r.message());
    else if (field === 2) endpoints.push(decodeEndpoint(r.message()));
    else if (field === 3) ports.push(decodePort(r.message()));
    else if (field === 4) addressType = r.string();
    else return false;
    return true;
  });
  // No endpoints or ports is null in the JSON (a nil list), which slimSlice keeps as undefined and null.
  return {
    metadata,
    addressType,
    ports: ports.length === 0 ? null : ports,
    endpoints: endpoints.length === 0 ? undefined : endpoints,
  };
}

function decodeMetadata(message: Reader): Metadata {
  const meta: Metadata = { name: '' };
  readFields(message, (r, field, wire) => {
    if (wire !== WIRE_BYTES) return false;
    if (field === 1) meta.name = r.string();
    else if (field === 3) setIfNotEmpty(meta, 'namespace', r.string());
    else if (field === 6) setIfNotEmpty(meta, 'resourceVersion', r.string());
    else if (field === 11) {
      const [key, value] = readStringMapEntry(r.message());
      meta.labels = { ...meta.labels, [key]: value };
    } else return false;
    return true;
  });
  return meta;
}

function setIfNotEmpty(meta: Metadata, key: 'namespace' | 'resourceVersion', value: string): void {
  if (value !== '') meta[key] = value;
}

function decodeEndpoint(message: Reader): Endpoint {
  const endpoint: Endpoint = { addresses: [] };
  readFields(message, (r, field, wire) => {
    if (wire !== WIRE_BYTES) return false;
    if (field === 1) endpoint.addresses.push(r.string());
    else if (field === 2) endpoint.conditions = decodeConditions(r.message());
    else if (field === 4) {
      const name = decodeReferenceName(r.message());
      if (name !== '') endpoint.targetRef = { name };
    } else return false;
    return true;
  });
  return endpoint;
}

function decodeConditions(message: Reader): Conditions {
  const conditions: Conditions = {};
  readFields(message, (r, field, wire) => {
    if (wire !== WIRE_VARINT) return false;
    if (field === 1) conditions.ready = r.bool();
    else if (field === 2) conditions.serving = r.bool();
    else if (field === 3) conditions.terminating = r.bool();
    else return false;
    return true;
  });
  return conditions;
}

function decodeReferenceName(message: Reader): string {
  let name = '';
  readFields(message, (r, field, wire) => {
    if (field !== 3 || wire !== WIRE_BYTES) return false;
    name = r.string();
    return true;
  });
  return name;
}

function decodePort(message: Reader): Port {
  const port: Port = {};
  readFields(message, (r, field, wire) => {
    if (field === 1 && wire === WIRE_BYTES) port.name = r.string();
    else if (field === 3 && wire === WIRE_VARINT) port.port = r.int32();
    else return false;
    return true;
  });
  return port;
}
