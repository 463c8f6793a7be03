import { describe, expect, it } from 'vitest';
import { isUuid, uuidv7, uuidv7Timestamp } from './ids.js';

/** The 128 bits of a canonical UUID as a bigint, to compare ids numerically. */
const toBigInt = (id: string) => BigInt(`0x${id.replace(/-/g, '')}`);

describe('uuidv7', () => {
  it('sets the version (7) and RFC 9562 variant (10xx) bits', () => {
    for (let i = 0; i < 1000; i++) {
      const id = uuidv7();
      expect(isUuid(id)).toBe(true);
      expect(id).toBe(id.toLowerCase());
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]);
    }
  });

  it('is strictly increasing across 10k ids generated in a tight loop', () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7());
    // Numeric and string order agree for lowercase hex of fixed width; check both, keyset pagination uses either.
    const outOfOrder = ids.findIndex((id, i) => i > 0 && !(toBigInt(id) > toBigInt(ids[i - 1]!) && id > ids[i - 1]!));
    expect(outOfOrder).toBe(-1);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('encodes the current time in its first 48 bits', () => {
    const before = Date.now();
    const id = uuidv7();
    const encoded = uuidv7Timestamp(id);
    expect(encoded).toBeGreaterThanOrEqual(before);
    // Ahead of the clock only when a millisecond's sequence ran out, and then by a few ms: a minute is a
    // bound no scheduler delay reaches, yet it catches a wrong unit (seconds, microseconds).
    expect(encoded).toBeLessThan(Date.now() + 60_000);
  });

  it('stays monotonic when the clock goes backwards', () => {
    const first = uuidv7();
    const second = uuidv7(0); // the epoch: far in the past
    expect(second > first).toBe(true);
    expect(uuidv7Timestamp(second)).toBeGreaterThanOrEqual(uuidv7Timestamp(first));
  });

  // Last: it moves this module's clock into the future for the rest of the file.
  it('decodes an explicit timestamp and borrows the next millisecond when the sequence is exhausted', () => {
    const future = Date.UTC(2100, 0, 1, 12, 0, 0, 123);
    const first = uuidv7(future);
    expect(uuidv7Timestamp(first)).toBe(future);
    expect(new Date(uuidv7Timestamp(first)).toISOString()).toBe('2100-01-01T12:00:00.123Z');

    // 12-bit sequence: at most 4096 ids per millisecond, so 5000 at the same instant must spill over.
    const ids = [first, ...Array.from({ length: 4999 }, () => uuidv7(future))];
    expect(ids.findIndex((id, i) => i > 0 && !(id > ids[i - 1]!))).toBe(-1);
    expect(uuidv7Timestamp(ids.at(-1)!)).toBe(future + 1);
  });
});

describe('isUuid', () => {
  it('accepts canonical UUIDs of any version and rejects everything else', () => {
    expect(isUuid('00000000-0000-0000-0000-000000000000')).toBe(true);
    expect(isUuid('3F2504E0-4F89-11D3-9A0C-0305E82C3301')).toBe(true);
    for (const value of ['', 'not-a-uuid', '3f2504e04f8911d39a0c0305e82c3301', "3f2504e0-4f89-11d3-9a0c-0305e82c3301'", null, undefined, 42, {}]) {
      expect(isUuid(value)).toBe(false);
    }
  });
});
