/**
 * The wire reader on hand-encoded messages: multi-byte and negative varints, unknown fields of
 * every wire type skipped (a newer API server's additions), and malformed input — truncated at
 * any byte, or arbitrary bytes — gives a ProtobufError, never another exception or a hang.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeEndpointSlice } from './endpoint-slice.ts';
import { decodeWatchEvent } from './envelope.ts';
import { pb } from '../../test/support/protobuf-encode.ts';
import { ProtobufError, readFields, Reader } from './wire.ts';

test('varints: one byte, several bytes, 2^32 and negative int32 (ten bytes, two’s complement)', () => {
  const r = new Reader(Uint8Array.from([...pb.varint(1), ...pb.varint(300), ...pb.varint(2 ** 32), ...pb.varint(-2)]));
  assert.equal(r.varint(), 1);
  assert.equal(r.varint(), 300);
  assert.equal(r.varint(), 2 ** 32);
  assert.equal(r.int32(), -2);
  assert.ok(r.done);
});

test('unknown fields of every wire type are skipped; the known ones around them are read', () => {
  const conditions = [
    ...pb.int(9, 12345), // varint
    ...pb.key(10, 1),
    ...[1, 2, 3, 4, 5, 6, 7, 8], // fixed64
    ...pb.string(11, 'a newer field'), // length-delimited
    ...pb.key(12, 3),
    ...pb.int(1, 7),
    ...pb.string(2, 'x'),
    ...pb.key(12, 4), // a group, with fields inside
    ...pb.key(13, 5),
    ...[1, 2, 3, 4], // fixed32
  ];
  const slice = Uint8Array.from([
    ...pb.bytes(1, [...pb.string(1, 'tei-1'), ...pb.string(42, 'future metadata')]),
    ...pb.bytes(2, [...pb.string(1, '198.18.0.2'), ...pb.bytes(2, [...conditions, ...pb.int(1, 1)]), ...conditions]),
    ...conditions,
    ...pb.string(4, 'IPv4'),
  ]);
  assert.deepEqual(decodeEndpointSlice(slice), {
    metadata: { name: 'tei-1' },
    addressType: 'IPv4',
    ports: null,
    endpoints: [{ addresses: ['198.18.0.2'], conditions: { ready: true } }],
  });
});

test('a known field with another wire type than its schema is skipped, not misread', () => {
  // ready as a string instead of a bool
  const slice = Uint8Array.from(pb.bytes(2, [...pb.string(1, 'a'), ...pb.bytes(2, pb.string(1, 'yes'))]));
  assert.deepEqual(decodeEndpointSlice(slice).endpoints, [{ addresses: ['a'], conditions: {} }]);
});

test('input cut at any byte is a ProtobufError naming what broke, never a crash', () => {
  const slice = Uint8Array.from([
    ...pb.bytes(1, [...pb.string(1, 'tei-1'), ...pb.string(6, '17')]),
    ...pb.bytes(2, [...pb.string(1, '198.18.0.2'), ...pb.bytes(2, pb.int(1, 1))]),
    ...pb.bytes(3, [...pb.string(1, 'http'), ...pb.int(3, 8080)]),
  ]);
  for (let cut = 1; cut < slice.length; cut++) {
    const truncated = slice.subarray(0, cut);
    try {
      decodeEndpointSlice(truncated);
      // A cut that falls between two top-level fields is a valid, shorter message.
    } catch (error) {
      assert.ok(error instanceof ProtobufError, `cut at ${cut}: ${String(error)}`);
      assert.match(error.message, /truncated|runs past the end/);
    }
  }
  assert.throws(
    () => readFields(Uint8Array.from([0x0a, 0x05, 0x61]), () => false),
    /length 5 at byte 1 runs past the end/,
  );
  assert.throws(() => new Reader(Uint8Array.from([0xff, 0xff])).varint(), /truncated varint at byte 2/);
  assert.throws(() => new Reader(Uint8Array.from(Array(11).fill(0xff))).varint(), /longer than 10 bytes/);
  assert.throws(() => readFields(Uint8Array.from([0x0f]), () => false), /wire type 7/);
  assert.throws(() => readFields(Uint8Array.from(pb.key(0, 0)), () => false), /field number 0/);
});

test('arbitrary bytes: a slice, or a ProtobufError; never another exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      for (const decode of [decodeEndpointSlice, (b: Uint8Array) => decodeWatchEvent(b, decodeEndpointSlice)]) {
        try {
          decode(bytes);
        } catch (error) {
          if (!(error instanceof ProtobufError)) throw error;
        }
      }
    }),
    { numRuns: 2000 },
  );
});
