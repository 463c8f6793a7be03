import { randomFillSync } from 'node:crypto';

let lastMs = 0;
let sequence = 0;

// Entropy is drawn in blocks: one randomFillSync per 512 ids instead of two per id (ids are minted on
// every request, for the request id).
const pool = Buffer.alloc(8 * 512);
let poolOffset = pool.length;

function randomBlock(size: number): Buffer {
  if (poolOffset + size > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const block = pool.subarray(poolOffset, poolOffset + size);
  poolOffset += size;
  return block;
}

/**
 * RFC 9562 UUIDv7: 48-bit Unix milliseconds, then a 12-bit sequence (monotonic within a millisecond in
 * this process, so ids sort by creation for keyset pagination), then 62 random bits.
 */
export function uuidv7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    sequence = randomBlock(2).readUInt16BE() & 0x1ff; // start low so the counter rarely overflows
  } else {
    sequence += 1;
    if (sequence > 0xfff) {
      // Sequence exhausted within this millisecond: borrow the next one (stays monotonic).
      lastMs += 1;
      sequence = 0;
    }
  }
  const bytes = Buffer.allocUnsafe(16);
  randomBlock(8).copy(bytes, 8);
  const ms = lastMs;
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | ((sequence >>> 8) & 0x0f);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for any canonical (hyphenated, hex) UUID. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Milliseconds since the epoch encoded in a UUIDv7. */
export function uuidv7Timestamp(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}
