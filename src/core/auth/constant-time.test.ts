import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from './constant-time.js';

describe('constantTimeEqual', () => {
  it('is true only for identical secrets', () => {
    expect(constantTimeEqual('s3cret', 's3cret')).toBe(true);
    expect(constantTimeEqual('s3cret', 's3creT')).toBe(false);
    expect(constantTimeEqual(Buffer.from('ab'), Buffer.from('ab'))).toBe(true);
  });

  it('answers false rather than throwing for different lengths or multi-byte input', () => {
    expect(constantTimeEqual('12345é', '123456')).toBe(false); // 7 bytes against 6
    expect(constantTimeEqual('', 'x')).toBe(false);
  });
});
