import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { main } from '../../cli.js';
import { loadConfig } from '../../config.js';
import { openDatabase } from '../db/open.js';
import { JOB_SCHEMA } from '../db/roles.js';
import { AppError } from '../http/errors.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { startSmtpServer, type TestSmtpServer } from '../../../test/smtp.js';
import { renderTemplate } from './mail-template.js';
import { createMailer, createOutboxMailer, createSmtpMailer, getMail, listMail, MAIL_QUEUE } from './mailer.js';

const FROM = 'Atrium Tests <mailer@atrium.test>';
const silent = pino({ level: 'silent' });
const recipient = (prefix = 'person') => `${prefix}-${randomBytes(4).toString('hex')}@example.test`;

/** A logger whose JSON lines the test can read. */
function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** A TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let smtp: TestSmtpServer;
let t: TestApp;

beforeAll(async () => {
  smtp = await startSmtpServer({ rejectRecipient: (address) => address.startsWith('rejected-') });
  t = await createTestApp({ SMTP_URL: smtp.url, MAIL_FROM: FROM });
  await t.platform.startWorker();
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

const mailRow = async (id: string) => (await t.admin.query('SELECT * FROM mail_messages WHERE id = $1', [id]))[0];

describe('SMTP transport', () => {
  it('delivers both parts from MAIL_FROM and records a sent row with the provider message id', async () => {
    const to = recipient();
    const sent = await t.platform.mailer.send({ to, subject: 'Welcome to Atrium ✓', text: 'Plain hello\nsecond line', html: '<p>HTML <b>hello</b></p>' });

    expect(sent).toMatchObject({ transport: 'smtp', status: 'sent' });
    const [mail] = smtp.messagesTo(to);
    expect(mail?.envelope.to).toEqual([to]);
    expect(mail?.to).toContain(to);
    expect(mail?.subject).toBe('Welcome to Atrium ✓');
    expect(mail?.from).toContain('mailer@atrium.test');
    expect(mail?.envelope.from).toBe('mailer@atrium.test');
    expect(mail?.text?.replace(/\r\n/g, '\n')).toBe('Plain hello\nsecond line');
    expect(mail?.html).toContain('<p>HTML <b>hello</b></p>');

    const row = await mailRow(sent.id);
    expect(row).toMatchObject({ to, from: FROM, transport: 'smtp', status: 'sent', provider_message_id: mail?.messageId, error: null });
    expect(row?.sent_at).not.toBeNull();
  });

  it('records a failed row and throws when the server rejects the recipient', async () => {
    const to = recipient('rejected');
    const id = '0190a0c4-0000-7000-8000-' + randomBytes(6).toString('hex');
    const error = await t.platform.mailer.send({ to, subject: 'Rejected', text: 'x' }, { id }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Error);
    expect((error as { responseCode?: number }).responseCode).toBe(550);
    expect(smtp.messagesTo(to)).toHaveLength(0);
    expect(await mailRow(id)).toMatchObject({ to, transport: 'smtp', status: 'failed', provider_message_id: null, sent_at: null });
    expect((await mailRow(id))?.error).toContain('550');
  });

  it('records a failed row when the server is unreachable, and a retry with the same id then succeeds', async () => {
    const to = recipient();
    const unreachable = createSmtpMailer({ db: t.platform.db, logger: silent, from: FROM, smtpUrl: `smtp://127.0.0.1:${await closedPort()}` });
    const id = '0190a0c4-0000-7000-8000-' + randomBytes(6).toString('hex');

    await expect(unreachable.send({ to, subject: 'Try again', text: 'body' }, { id })).rejects.toThrow(/ECONNREFUSED/);
    expect(await mailRow(id)).toMatchObject({ status: 'failed' });
    expect((await mailRow(id))?.error).toMatch(/ECONNREFUSED/);

    await expect(t.platform.mailer.send({ to, subject: 'Try again', text: 'body' }, { id })).resolves.toEqual({ id, transport: 'smtp', status: 'sent' });
    expect(await mailRow(id)).toMatchObject({ status: 'sent', error: null });
    expect(smtp.messagesTo(to)).toHaveLength(1);
  });

  it('does not deliver an id twice (a retried job after a successful send)', async () => {
    const to = recipient();
    const id = '0190a0c4-0000-7000-8000-' + randomBytes(6).toString('hex');
    await t.platform.mailer.send({ to, subject: 'Once', text: 'only once' }, { id });
    await expect(t.platform.mailer.send({ to, subject: 'Once', text: 'only once' }, { id })).resolves.toEqual({ id, transport: 'smtp', status: 'sent' });
    expect(smtp.messagesTo(to)).toHaveLength(1);
  });
});

describe('outbox transport', () => {
  it('is chosen when no SMTP URL is configured', () => {
    expect(createMailer({ db: t.platform.db, logger: silent, from: FROM }).transport).toBe('outbox');
    expect(t.platform.mailer.transport).toBe('smtp');
  });

  it('stores the message, sends nothing, and logs recipient and subject but never the body', async () => {
    const { logger, lines } = captureLogger();
    const outbox = createOutboxMailer({ db: t.platform.db, logger, from: FROM });
    const to = recipient();
    const token = randomBytes(12).toString('hex');

    const stored = await outbox.send({ to, subject: 'Reset your password', text: `token ${token}`, html: `<a href="/reset?token=${token}">reset</a>` });

    expect(stored).toMatchObject({ transport: 'outbox', status: 'stored' });
    expect(await mailRow(stored.id)).toMatchObject({ to, from: FROM, subject: 'Reset your password', text: `token ${token}`, transport: 'outbox', status: 'stored', sent_at: null });
    expect((await mailRow(stored.id))?.html).toContain(token);
    expect(smtp.messagesTo(to)).toHaveLength(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, mailId: stored.id, to, subject: 'Reset your password' });
    expect(JSON.stringify(lines)).not.toContain(token);
  });

  it('lists newest first and finds a message by id', async () => {
    const outbox = createOutboxMailer({ db: t.platform.db, logger: silent, from: FROM });
    const first = await outbox.send({ to: recipient(), subject: 'First', text: 'one' });
    const second = await outbox.send({ to: recipient(), subject: 'Second', text: 'two' });

    const ids = (await listMail(t.platform.db, { limit: 100 })).map((row) => row.id);
    expect(ids.indexOf(second.id)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id));
    expect(await listMail(t.platform.db, { limit: 1 })).toHaveLength(1);
    expect(await getMail(t.platform.db, first.id)).toMatchObject({ id: first.id, subject: 'First', text: 'one', status: 'stored' });
    await expect(getMail(t.platform.db, '0190a0c4-0000-7000-8000-000000000000')).rejects.toBeInstanceOf(AppError);
    await expect(getMail(t.platform.db, 'not-a-uuid')).rejects.toMatchObject({ code: 'resource.not_found' });
  });
});

describe('mail queue', () => {
  it('delivers a mail queued in a transaction that commits, from a template with both parts', async () => {
    const to = recipient();
    const message = renderTemplate(
      { subject: 'Verify {{email}}', text: 'Open {{link}}', html: '<p>Hi {{name}}, open <a href="{{link}}">this link</a></p>' },
      { email: to, name: 'Ann <Admin>', link: 'http://localhost:3000/verify?token=abc&x=1' },
    );
    const mailId = await t.platform.db.transaction({}, async (_tx, executor) => t.platform.queueMail({ to, ...message }, { db: executor }));

    const mail = await smtp.waitForMail((received) => received.envelope.to.includes(to));
    expect(mail.subject).toBe(`Verify ${to}`);
    expect(mail.text).toBe('Open http://localhost:3000/verify?token=abc&x=1');
    expect(mail.html).toContain('Hi Ann &lt;Admin&gt;, open <a href="http://localhost:3000/verify?token=abc&amp;x=1">');
    // The row is written after the server accepted the message; wait for the job to finish.
    await vi.waitFor(async () => expect((await t.platform.jobs.getJob(MAIL_QUEUE, mailId))?.state).toBe('completed'), { timeout: 15_000, interval: 100 });
    expect(await mailRow(mailId)).toMatchObject({ to, status: 'sent', provider_message_id: mail.messageId });
  });

  it('enqueues nothing when the transaction rolls back', async () => {
    const to = recipient();
    let mailId = '';
    const rolledBack = await t.platform.db
      .transaction({}, async (_tx, executor) => {
        mailId = await t.platform.queueMail({ to, subject: 'Never', text: 'never sent' }, { db: executor });
        throw new Error('the change failed');
      })
      .catch((e: unknown) => e);

    expect(rolledBack).toMatchObject({ message: 'the change failed' });
    expect(mailId).not.toBe('');
    expect(await t.platform.jobs.getJob(MAIL_QUEUE, mailId)).toBeNull();
    expect(await t.admin.query(`SELECT id FROM ${JOB_SCHEMA}.job WHERE name = $1 AND data->>'mailId' = $2`, [MAIL_QUEUE, mailId])).toHaveLength(0);
    expect(await mailRow(mailId)).toBeUndefined();
  });
});

describe('atrium mail', () => {
  const capture = () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const output = () => [...log.mock.calls, ...error.mock.calls].map((args) => args.join(' ')).join('\n');
    return { output, restore: () => (log.mockRestore(), error.mockRestore()) };
  };

  it('explains its subcommands with --help and refuses an unknown one', async () => {
    const { output, restore } = capture();
    try {
      expect(await main(['mail', '--help'])).toBe(0);
      expect(output()).toContain('atrium mail list [--limit N]');
      expect(output()).toContain('atrium mail show <id>');
      expect(await main(['mail', 'delete'])).toBe(2);
      expect(output()).toContain('expected "list" or "show <id>"');
    } finally {
      restore();
    }
  });

  // The CLI opens the database named by the environment; in embedded mode that is a data directory this
  // test can own. On PostgreSQL the per-file database is not what the environment names.
  it.runIf(!process.env.DATABASE_URL)('lists and shows mail kept in the embedded outbox', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-mail-cli-'));
    // `atrium migrate` brings the directory up to date; the read commands then skip the (idempotent) migration check.
    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'silent', MIGRATE_ON_START: 'false' };
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const { output, restore } = capture();
    try {
      // Start from the run's migrated snapshot (a fresh initdb + migrate costs several seconds), as the
      // embedded database's own directory under DATA_DIR.
      const seeded = await PGlite.create({ dataDir: path.join(dataDir, 'pgdata'), loadDataDir: new Blob([fs.readFileSync(inject('pgliteSnapshot'))]) });
      await seeded.close();
      expect(await main(['migrate'])).toBe(0);
      const db = await openDatabase(loadConfig({ ...process.env, ...env }), { migrate: false });
      const to = recipient();
      const stored = await createOutboxMailer({ db, logger: silent, from: FROM })
        .send({ to, subject: 'Your sign-in link', text: 'Open http://localhost:3000/magic?token=t0k3n', html: '<p>html part</p>' })
        .finally(() => db.close());

      expect(await main(['mail', 'list', '--limit', '5'])).toBe(0);
      expect(output()).toMatch(new RegExp(`${stored.id}.*stored.*${to}.*Your sign-in link`));

      expect(await main(['mail', 'show', stored.id])).toBe(0);
      expect(output()).toContain(`To:       ${to}`);
      expect(output()).toContain('Open http://localhost:3000/magic?token=t0k3n');
      expect(output()).toContain('<p>html part</p>');

      expect(await main(['mail', 'show', '0190a0c4-0000-7000-8000-000000000000'])).toBe(1);
      expect(output()).toContain('No mail with id 0190a0c4-0000-7000-8000-000000000000');
      expect(await main(['mail', 'list', '--limit', '0'])).toBe(2);
    } finally {
      restore();
      vi.unstubAllEnvs();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
