/**
 * Splits a protobuf watch stream (`application/vnd.kubernetes.protobuf;stream=watch`) into frames:
 * each a 4-byte big-endian length, then that many bytes (one WatchEvent; envelope.ts decodes it).
 * Network chunks cut frames anywhere; a frame over `maxFrameBytes` is refused before it is
 * buffered, and a stream that ends inside a frame is an error (the watch failed, as a cut JSON
 * line is), not a short event.
 */
import { ProtobufError } from './wire.ts';

export async function* readWatchFrames(
  body: AsyncIterable<Uint8Array>,
  maxFrameBytes: number,
): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array = new Uint8Array(0);
  for await (const chunk of body) {
    pending = pending.length === 0 ? chunk : concat(pending, chunk);
    let at = 0;
    while (pending.length - at >= 4) {
      const length = new DataView(pending.buffer, pending.byteOffset + at, 4).getUint32(0);
      if (length > maxFrameBytes) throw new ProtobufError(`watch frame of ${length} bytes, over ${maxFrameBytes}`);
      if (pending.length - at - 4 < length) break;
      yield pending.subarray(at + 4, at + 4 + length);
      at += 4 + length;
    }
    pending = pending.subarray(at);
  }
  // A cut connection, not undecodable bytes (not a ProtobufError: the informer keeps protobuf).
  if (pending.length > 0) throw new Error(`the watch stream ended inside a frame (${pending.length} bytes left over)`);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
