/**
 * The protobuf wire format, read only, for the few Kubernetes messages we decode (see
 * endpoint-slice.ts and envelope.ts): a message is a sequence of fields, each a key (field number
 * << 3 | wire type) and a value; varints (0), 64-bit (1), length-delimited (2: strings, bytes,
 * nested messages, packed repeated), 32-bit (5); groups (3, 4) are deprecated but still skipped.
 * Unknown fields of every wire type are skipped, so a newer API server's additions are ignored.
 * Input that ends inside a field or a length that runs past its message throws a ProtobufError
 * naming the offset: a clear error, never an out-of-bounds read. (Node only: strings are read
 * with Buffer's native UTF-8 decoder.)
 */

export class ProtobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufError';
  }
}

export const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

/**
 * A cursor over one message: the bytes from `pos` to `end` of a buffer shared with the messages
 * around it. A nested message is read with `message()`, another cursor over the same buffer:
 * no copy and no typed-array view per field (a view per field was the largest cost of a decode).
 */
export class Reader {
  readonly #buf: Buffer;
  #pos: number;
  readonly #end: number;

  constructor(bytes: Uint8Array | Buffer, start = 0, end = bytes.length) {
    this.#buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    this.#pos = start;
    this.#end = end;
  }

  get done(): boolean {
    return this.#pos >= this.#end;
  }

  /**
   * A varint as a number. Values past 2^53 lose precision (no field we read is that large);
   * more than 10 bytes is malformed.
   */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.#varintByte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new ProtobufError(`varint longer than 10 bytes at byte ${this.#pos}`);
  }

  /** An int32: the varint's low 32 bits, signed (a negative one is sent as a 10-byte varint). */
  int32(): number {
    let low = 0;
    for (let i = 0; i < 10; i++) {
      const byte = this.#varintByte();
      if (i < 5) low |= (byte & 0x7f) << (7 * i); // bits past 32 fall off the 32-bit shift
      if (byte < 0x80) return low | 0;
    }
    throw new ProtobufError(`varint longer than 10 bytes at byte ${this.#pos}`);
  }

  #varintByte(): number {
    if (this.#pos >= this.#end) throw new ProtobufError(`truncated varint at byte ${this.#pos}`);
    return this.#buf[this.#pos++]!;
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  /** Reads a length and moves past its value; returns where the value starts. */
  #delimited(): number {
    const at = this.#pos;
    const length = this.varint();
    if (length > this.#end - this.#pos)
      throw new ProtobufError(`length ${length} at byte ${at} runs past the end (${this.#end} bytes)`);
    const start = this.#pos;
    this.#pos += length;
    return start;
  }

  /** A length-delimited nested message, as a cursor over the same bytes. */
  message(): Reader {
    const start = this.#delimited();
    return new Reader(this.#buf, start, this.#pos);
  }

  /** A length-delimited value, as a view of the input (no copy). */
  bytes(): Uint8Array {
    const start = this.#delimited();
    return this.#buf.subarray(start, this.#pos);
  }

  /** A string; invalid UTF-8 becomes U+FFFD, as Go's JSON encoder writes it for the JSON path. */
  string(): string {
    const start = this.#delimited();
    return this.#buf.toString('utf8', start, this.#pos);
  }

  #advance(n: number): void {
    if (n > this.#end - this.#pos) throw new ProtobufError(`truncated ${n}-byte value at byte ${this.#pos}`);
    this.#pos += n;
  }

  /** The next field's key: field number << 3 | wire type. */
  key(): number {
    const at = this.#pos;
    const key = this.varint();
    if (key < 8) throw new ProtobufError(`field number 0 at byte ${at}`);
    return key;
  }

  /** Skips the value of a field of this wire type (one we do not read). */
  skip(wire: number, field: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.#advance(8);
        return;
      case WIRE_BYTES:
        this.#delimited();
        return;
      case WIRE_FIXED32:
        this.#advance(4);
        return;
      case WIRE_START_GROUP:
        // Everything up to the matching end-group key.
        for (;;) {
          if (this.done) throw new ProtobufError(`truncated group ${field}`);
          const key = this.key();
          const next = Math.floor(key / 8);
          if ((key & 7) === WIRE_END_GROUP) {
            if (next !== field) throw new ProtobufError(`group ${field} ended by ${next}`);
            return;
          }
          this.skip(key & 7, next);
        }
      default:
        throw new ProtobufError(`wire type ${wire} of field ${field} before byte ${this.#pos}`);
    }
  }
}

/**
 * Calls `onField` for each field of a message (bytes, or a nested message's Reader); `onField`
 * reads the value of a field it knows (by number and wire type) and returns true, or returns
 * false to have it skipped.
 */
export function readFields(
  message: Uint8Array | Reader,
  onField: (r: Reader, field: number, wire: number) => boolean,
): void {
  const r = message instanceof Reader ? message : new Reader(message);
  while (!r.done) {
    const key = r.key();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (!onField(r, field, wire)) r.skip(wire, field);
  }
}

/** A map<string, string> entry: key = 1, value = 2. */
export function readStringMapEntry(entry: Reader): [string, string] {
  let key = '';
  let value = '';
  readFields(entry, (r, field, wire) => {
    if (wire !== WIRE_BYTES || (field !== 1 && field !== 2)) return false;
    if (field === 1) key = r.string();
    else value = r.string();
    return true;
  });
  return [key, value];
}
