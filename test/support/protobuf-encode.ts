/** A tiny protobuf encoder for tests: enough to build any message by hand (the code under test only decodes). */
import { WIRE_BYTES, WIRE_VARINT } from '../../kube/protobuf/wire.ts';

export const pb = {
  varint(n: number | bigint): number[] {
    let v = BigInt.asUintN(64, BigInt(n));
    const out: number[] = [];
    do {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v === 0n ? low : low | 0x80);
    } while (v !== 0n);
    return out;
  },
  key(field: number, wire: number): number[] {
    return pb.varint(field * 8 + wire);
  },
  int(field: number, n: number | bigint): number[] {
    return [...pb.key(field, WIRE_VARINT), ...pb.varint(n)];
  },
  bytes(field: number, payload: ArrayLike<number>): number[] {
    return [...pb.key(field, WIRE_BYTES), ...pb.varint(payload.length), ...Array.from(payload)];
  },
  string(field: number, s: string): number[] {
    return pb.bytes(field, new TextEncoder().encode(s));
  },
};
