/**
 * Kubernetes' protobuf encoding around the objects themselves (as kube-apiserver 1.34 sends it;
 * k8s.io/apimachinery runtime/serializer/protobuf and meta/v1 generated.proto):
 * - a response body (an object, a list, a Status) is the 4 bytes `k8s\0` then a runtime.Unknown:
 *   typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2 (the object's own message), contentEncoding
 *   = 3, contentType = 4 (both empty for protobuf);
 * - a list message is {metadata = 1: ListMeta {resourceVersion = 2, continue = 3}, items = 2};
 * - a watch (`;stream=watch`) is a sequence of frames, each a 4-byte big-endian length and a
 *   meta/v1 WatchEvent {type = 1, object = 2: RawExtension {raw = 1}} with no `k8s\0` of its own;
 *   its raw is an enveloped object: the resource's kind, or a Status in an ERROR event;
 * - a Status is {message = 3, reason = 4, details = 5: {retryAfterSeconds = 5}, code = 6}.
 * Only the object's own message is resource-specific: the caller decodes it (ObjectDecoder).
 */
import type { ObjectList } from '../api.ts';
import type { WatchEvent } from '../watch-lines.ts';
import { ProtobufError, readFields, WIRE_BYTES, WIRE_VARINT } from './wire.ts';

/** Decodes one object's message (the raw bytes inside the envelope), e.g. an EndpointSlice. */
export type ObjectDecoder<T> = (message: Uint8Array) => T;

const PROTOBUF = 'application/vnd.kubernetes.protobuf';
/** What we ask for: protobuf, or JSON from a server (an aggregated API, a proxy) that has no protobuf. */
export const PROTOBUF_ACCEPT = `${PROTOBUF}, application/json`;

const MAGIC = [0x6b, 0x38, 0x73, 0x00]; // "k8s\0"

/** Whether a response's Content-Type is protobuf (a list) or a protobuf watch stream. */
export function isProtobuf(contentType: string): boolean {
  return contentType.trim().toLowerCase().startsWith(PROTOBUF);
}

interface Envelope {
  readonly apiVersion: string;
  readonly kind: string;
  readonly raw: Uint8Array;
}

function unwrap(body: Uint8Array): Envelope {
  if (body.length < MAGIC.length || MAGIC.some((b, i) => body[i] !== b))
    throw new ProtobufError(`not a Kubernetes protobuf object (no k8s\\0 prefix; ${body.length} bytes)`);
  let apiVersion = '';
  let kind = '';
  let raw: Uint8Array | undefined;
  let contentType = '';
  readFields(body.subarray(MAGIC.length), (r, field, wire) => {
    if (wire !== WIRE_BYTES) return false;
    if (field === 1)
      readFields(r.message(), (t, f, w) => {
        if (w !== WIRE_BYTES || (f !== 1 && f !== 2)) return false;
        if (f === 1) apiVersion = t.string();
        else kind = t.string();
        return true;
      });
    else if (field === 2) raw = r.bytes();
    else if (field === 4) contentType = r.string();
    else return false;
    return true;
  });
  if (contentType !== '' && !isProtobuf(contentType))
    throw new ProtobufError(`${kind || 'object'} holds ${contentType}, not protobuf`);
  return { apiVersion, kind, raw: raw ?? new Uint8Array(0) };
}

/** The fields of a Status that a failed call or an ERROR event is judged by (KubeApiError, classify). */
interface DecodedStatus {
  readonly kind: 'Status';
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly details?: { retryAfterSeconds?: number };
}

function decodeStatus(message: Uint8Array): DecodedStatus {
  const status: { -readonly [K in keyof DecodedStatus]: DecodedStatus[K] } = { kind: 'Status' };
  readFields(message, (r, field, wire) => {
    if (field === 3 && wire === WIRE_BYTES) status.message = r.string();
    else if (field === 4 && wire === WIRE_BYTES) status.reason = r.string();
    else if (field === 6 && wire === WIRE_VARINT) status.code = r.int32();
    else if (field === 5 && wire === WIRE_BYTES) {
      const details: { retryAfterSeconds?: number } = {};
      readFields(r.message(), (d, f, w) => {
        if (f !== 5 || w !== WIRE_VARINT) return false;
        details.retryAfterSeconds = d.int32();
        return true;
      });
      status.details = details;
    } else return false;
    return true;
  });
  return status;
}

/** A protobuf error body (4xx/5xx): its Status, or undefined if it is not one. */
export function statusOfBody(body: Uint8Array): DecodedStatus | undefined {
  try {
    const envelope = unwrap(body);
    return envelope.kind === 'Status' ? decodeStatus(envelope.raw) : undefined;
  } catch {
    return undefined;
  }
}

/** A list response body: items decoded by `decodeItem`, resourceVersion and continue from its ListMeta. */
export function decodeList<T>(body: Uint8Array, decodeItem: ObjectDecoder<T>): ObjectList<T> {
  const envelope = unwrap(body);
  if (envelope.kind === 'Status') throw new ProtobufError('a Status where a list was expected');
  const items: T[] = [];
  let resourceVersion = '';
  let token = '';
  readFields(envelope.raw, (r, field, wire) => {
    if (wire !== WIRE_BYTES) return false;
    if (field === 2) items.push(decodeItem(r.bytes()));
    else if (field === 1)
      readFields(r.message(), (m, f, w) => {
        if (w !== WIRE_BYTES || (f !== 2 && f !== 3)) return false;
        if (f === 2) resourceVersion = m.string();
        else token = m.string();
        return true;
      });
    else return false;
    return true;
  });
  return { items, resourceVersion, continue: token === '' ? undefined : token };
}

/** One watch frame: its type, and its object decoded by `decodeItem` (a Status for ERROR). */
export function decodeWatchEvent<T>(frame: Uint8Array, decodeItem: ObjectDecoder<T>): WatchEvent {
  let type: string | undefined;
  let raw: Uint8Array | undefined;
  readFields(frame, (r, field, wire) => {
    if (wire !== WIRE_BYTES) return false;
    if (field === 1) type = r.string();
    else if (field === 2)
      readFields(r.message(), (x, f, w) => {
        if (f !== 1 || w !== WIRE_BYTES) return false;
        raw = x.bytes();
        return true;
      });
    else return false;
    return true;
  });
  if (type === undefined) throw new ProtobufError('watch event without a type');
  if (raw === undefined) throw new ProtobufError(`${type} watch event without an object`);
  const envelope = unwrap(raw);
  return {
    type,
    object: envelope.kind === 'Status' ? decodeStatus(envelope.raw) : decodeItem(envelope.raw),
  };
}
