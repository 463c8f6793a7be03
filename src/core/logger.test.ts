import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { createLogger, REDACTED, redactSecrets } from './logger.js';

describe('redactSecrets', () => {
  it('censors sensitive keys at any depth and in arrays, case-insensitively', () => {
    const input = {
      user: { name: 'Ann', password: 'p1', profile: { Token: 't1' } },
      headers: { Authorization: 'Bearer x', 'set-cookie': ['a=b'], accept: 'json' },
      attempts: [{ recoveryCode: 'r1', n: 1 }],
    };
    expect(redactSecrets(input)).toEqual({
      user: { name: 'Ann', password: REDACTED, profile: { Token: REDACTED } },
      headers: { Authorization: REDACTED, 'set-cookie': REDACTED, accept: 'json' },
      attempts: [{ recoveryCode: REDACTED, n: 1 }],
    });
    expect(input.user.password).toBe('p1'); // the logged object itself is not modified
  });

  it('leaves errors and other non-plain objects to their serializers', () => {
    const error = Object.assign(new Error('boom'), { code: 'E_X' });
    const result = redactSecrets({ err: error }) as { err: Error };
    expect(result.err).toBe(error);
  });
});

describe('createLogger', () => {
  it('writes no secret, however deep, and keeps the request bindings', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger(loadConfig({ LOG_LEVEL: 'info' }), sink).child({ requestId: 'r-1' });
    logger.info({ body: { account: { password: 'hunter2-secret' }, mfaToken: 'mfa-secret' } }, 'payload');
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ requestId: 'r-1', msg: 'payload', body: { account: { password: REDACTED }, mfaToken: REDACTED } });
    expect(lines.join('')).not.toMatch(/hunter2-secret|mfa-secret/);
  });
});
