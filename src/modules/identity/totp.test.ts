import { generate, generateSecret } from 'otplib';
import { Secret } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { generateTotpSecret, otpauthUrl, totpStep, verifyTotp } from './totp.js';

// Codes come from otplib (a different implementation than the server's otpauth), as the issue demands.
const secret = generateSecret(); // 20 random bytes, base32
// Mid-step, so ±seconds around it stay in one step: 2030-01-01T00:00:15Z.
const now = new Date(Date.UTC(2030, 0, 1, 0, 0, 15));
const epoch = now.getTime() / 1000;
const step = Math.floor(epoch / 30);

const otplibCode = (at: number, key = secret) => generate({ secret: key, epoch: at });

describe('generateTotpSecret', () => {
  it('is 160 random bits in unpadded base32', () => {
    const a = generateTotpSecret();
    const b = generateTotpSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(Secret.fromBase32(a).bytes.length).toBe(20);
    expect(a).not.toBe(b);
  });

  it('is usable by another TOTP library', async () => {
    const key = generateTotpSecret();
    const code = await otplibCode(epoch, key);
    expect(verifyTotp({ secret: key, code, lastUsedStep: null, now })).toEqual({ ok: true, step });
  });
});

describe('verifyTotp', () => {
  it('accepts a code otplib generates for the real current time', async () => {
    const code = await generate({ secret });
    const result = verifyTotp({ secret, code, lastUsedStep: null });
    expect(result.ok).toBe(true);
    // Within one step of the clock: the test may straddle a step boundary, which the window absorbs.
    if (result.ok) expect(Math.abs(result.step - totpStep())).toBeLessThanOrEqual(1);
  });

  it('matches the RFC 6238 appendix B SHA-1 vectors (6-digit truncation, leading zeros kept)', () => {
    const rfcSecret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // ASCII "12345678901234567890"
    const vectors: Array<[number, string]> = [
      [59, '287082'],
      [1111111109, '081804'],
      [1234567890, '005924'],
      [2000000000, '279037'],
    ];
    for (const [t, code] of vectors) {
      expect(verifyTotp({ secret: rfcSecret, code, lastUsedStep: null, now: new Date(t * 1000) })).toEqual({
        ok: true,
        step: Math.floor(t / 30),
      });
    }
  });

  it('accepts the current step and one step either side, returning the step the code belongs to', async () => {
    for (const offset of [-1, 0, 1]) {
      const code = await otplibCode(epoch + offset * 30);
      expect(verifyTotp({ secret, code, lastUsedStep: null, now })).toEqual({ ok: true, step: step + offset });
    }
  });

  it('refuses a code two steps away', async () => {
    for (const offset of [-2, 2]) {
      const code = await otplibCode(epoch + offset * 30);
      expect(verifyTotp({ secret, code, lastUsedStep: null, now })).toEqual({ ok: false });
    }
  });

  it('refuses a replay of the accepted step and any earlier step, and accepts a later one', async () => {
    const code = await otplibCode(epoch);
    const first = verifyTotp({ secret, code, lastUsedStep: null, now });
    expect(first).toEqual({ ok: true, step });
    if (!first.ok) return;

    expect(verifyTotp({ secret, code, lastUsedStep: first.step, now })).toEqual({ ok: false });
    // Still inside the window 29 s later, still refused.
    expect(verifyTotp({ secret, code, lastUsedStep: first.step, now: new Date(now.getTime() + 29_000) })).toEqual({
      ok: false,
    });
    const previous = await otplibCode(epoch - 30);
    expect(verifyTotp({ secret, code: previous, lastUsedStep: first.step, now })).toEqual({ ok: false });

    const next = await otplibCode(epoch + 30);
    expect(verifyTotp({ secret, code: next, lastUsedStep: first.step, now })).toEqual({ ok: true, step: step + 1 });
  });

  it('accepts a code with spaces in it', async () => {
    const code = await otplibCode(epoch);
    const spaced = ` ${code.slice(0, 3)} ${code.slice(3)} `;
    expect(verifyTotp({ secret, code: spaced, lastUsedStep: null, now })).toEqual({ ok: true, step });
  });

  it('refuses a wrong code', async () => {
    const window = await Promise.all([-1, 0, 1].map((o) => otplibCode(epoch + o * 30)));
    // Shift every digit of the current code until it matches no step of the window.
    let wrong = window[1]!;
    do wrong = [...wrong].map((d) => String((Number(d) + 1) % 10)).join('');
    while (window.includes(wrong));
    expect(verifyTotp({ secret, code: wrong, lastUsedStep: null, now })).toEqual({ ok: false });
  });

  it('refuses codes that are not exactly six ASCII digits, without throwing', async () => {
    const code = await otplibCode(epoch);
    const bad = [
      '',
      code.slice(0, 5),
      `${code}0`,
      `0${code}`,
      'abcdef',
      `${code.slice(0, 5)}a`,
      `${code.slice(0, 5)}é`, // 6 UTF-16 units, 7 bytes: would make a naive timingSafeEqual throw
      code.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))), // full-width digits
      `${code.slice(0, 3)}-${code.slice(3)}`,
      `+${code.slice(1)}`,
    ];
    for (const input of bad) {
      expect(verifyTotp({ secret, code: input, lastUsedStep: null, now }), JSON.stringify(input)).toEqual({ ok: false });
    }
  });
});

describe('otpauthUrl', () => {
  const url = otpauthUrl({ secret, accountName: 'alice@example.com', issuer: 'Acme Corp' });

  it('is a Key URI with the secret, issuer, SHA1, 6 digits and a 30-second period', () => {
    const parsed = new URL(url);
    expect(parsed.protocol).toBe('otpauth:');
    expect(parsed.host).toBe('totp');
    expect(decodeURIComponent(parsed.pathname.slice(1))).toBe('Acme Corp:alice@example.com');
    expect(parsed.searchParams.get('secret')).toBe(secret);
    expect(parsed.searchParams.get('issuer')).toBe('Acme Corp');
    expect(parsed.searchParams.get('algorithm')).toBe('SHA1');
    expect(parsed.searchParams.get('digits')).toBe('6');
    expect(parsed.searchParams.get('period')).toBe('30');
  });

  it('provisions another library: otplib fed the URI parameters produces codes the server accepts', async () => {
    const params = new URL(url).searchParams;
    const code = await generate({
      secret: params.get('secret')!,
      algorithm: params.get('algorithm')!.toLowerCase() as 'sha1',
      digits: Number(params.get('digits')) as 6,
      period: Number(params.get('period')),
      epoch,
    });
    expect(verifyTotp({ secret, code, lastUsedStep: null, now })).toEqual({ ok: true, step });
  });

  it('rejects a colon in the issuer or account name (the label separator)', () => {
    expect(() => otpauthUrl({ secret, accountName: 'a:b@example.com', issuer: 'Acme' })).toThrow(TypeError);
    expect(() => otpauthUrl({ secret, accountName: 'alice@example.com', issuer: 'Ac:me' })).toThrow(TypeError);
  });
});
