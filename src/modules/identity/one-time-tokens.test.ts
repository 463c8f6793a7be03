import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPerson } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { consumeOneTimeToken, findOneTimeToken, issueOneTimeToken } from './one-time-tokens.js';
import { hashSecretToken } from './secrets.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const issue = (userId: string, purpose: 'verify_email' | 'reset_password' = 'reset_password') =>
  t.platform.db.transaction({}, (tx) => issueOneTimeToken(tx, { userId, purpose, email: 'x@example.test' }));
const consume = (token: string, purpose: 'verify_email' | 'reset_password' = 'reset_password') =>
  t.platform.db.transaction({}, (tx) => consumeOneTimeToken(tx, token, purpose));

describe('one-time tokens', () => {
  it('stores only the hash, and is used once', async () => {
    const person = await createPerson(t.app);
    const token = await issue(person.id);
    const rows = await t.admin.query<{ token_hash: string }>('SELECT token_hash FROM one_time_tokens WHERE user_id = $1', [person.id]);
    expect(rows.map((row) => row.token_hash)).toEqual([hashSecretToken(token)]);
    expect(await t.platform.db.transaction({}, (tx) => findOneTimeToken(tx, token, 'reset_password'))).not.toBeNull();
    expect((await consume(token))?.userId).toBe(person.id);
    expect(await consume(token)).toBeNull();
  });

  it('refuses another purpose and an expired token', async () => {
    const person = await createPerson(t.app);
    const token = await issue(person.id);
    expect(await consume(token, 'verify_email')).toBeNull();
    await t.admin.query(`UPDATE one_time_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [person.id]);
    expect(await consume(token)).toBeNull();
  });

  it('retires the older tokens of the purpose, even when issued concurrently', async () => {
    const person = await createPerson(t.app);
    const other = await issue(person.id, 'verify_email');
    const tokens = await Promise.all(Array.from({ length: 8 }, () => issue(person.id)));
    const live = await t.admin.query(`SELECT 1 FROM one_time_tokens WHERE user_id = $1 AND purpose = 'reset_password' AND used_at IS NULL`, [person.id]);
    expect(live).toHaveLength(1);
    const used = [];
    for (const token of tokens) used.push(await consume(token));
    expect(used.filter(Boolean)).toHaveLength(1);
    // Another purpose is untouched.
    expect(await consume(other, 'verify_email')).not.toBeNull();
  });
});
