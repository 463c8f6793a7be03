/**
 * The HTTP contract every route inherits: problem+json errors for every failure, request ids, security
 * headers, CORS, body limits and log redaction — exercised through the real app.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, testConfig, type TestApp } from '../../../test/harness.js';
import { createLogger } from '../logger.js';
import { PROBLEM_CONTENT_TYPE } from './errors.js';

const SECRET = 'postgres://admin:Hunter2-s3cr3t@db.internal:5432/atrium';
const BODY_LIMIT = 2048;

/** Routes that exist only in these tests, to provoke each kind of failure. */
async function registerTestRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/test/people',
    {
      config: { public: true },
      schema: {
        body: Type.Object(
          {
            name: Type.String({ minLength: 1 }),
            email: Type.String({ format: 'email' }),
            age: Type.Integer({ minimum: 0 }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => reply.code(201).send(request.body),
  );
  app.get(
    '/test/items/:id',
    {
      config: { public: true },
      schema: { params: Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) }), querystring: Type.Object({ limit: Type.Optional(Type.Integer({ maximum: 100 })) }) },
    },
    async (request) => ({ id: (request.params as { id: string }).id }),
  );
  app.post('/test/echo', { config: { public: true } }, async (request) => ({ received: request.body }));
  app.get('/test/boom', { config: { public: true } }, async () => {
    throw new Error(`connection to ${SECRET} failed`);
  });
  app.post('/test/log-body', { config: { public: true } }, async (request) => {
    // What a careless handler might do: log everything it was sent. Redaction must still hold.
    request.log.info({ body: request.body, headers: request.headers }, 'test payload');
    return { ok: true };
  });
}

function expectProblem(response: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, code: string) {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
  const body = response.json() as Record<string, unknown>;
  expect(body).toMatchObject({ status, code, type: `https://atrium.dev/problems/${code.replace(/\./g, '/')}` });
  expect(body.title).toEqual(expect.any(String));
  expect(body.detail).toEqual(expect.any(String));
  expect(body.requestId).toBe(response.headers['x-request-id']);
  return body;
}

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ BODY_LIMIT_BYTES: String(BODY_LIMIT), CORS_ORIGINS: 'https://console.example.com' }, { configure: registerTestRoutes });
});
afterAll(() => t?.close());

describe('errors are application/problem+json', () => {
  it('unknown route → 404 route.not_found', async () => {
    const body = expectProblem(await t.app.inject({ url: '/no/such/route?x=1' }), 404, 'route.not_found');
    expect(body.detail).toBe('No route GET /no/such/route.');
  });

  it('wrong method → 405 with an Allow header listing the methods that exist', async () => {
    const response = await t.app.inject({ method: 'DELETE', url: '/health' });
    expectProblem(response, 405, 'request.method_not_allowed');
    expect(response.headers.allow).toBe('GET, HEAD');
  });

  it('wrong method on a parametric route → 405 (matched by URL, not by pattern)', async () => {
    const response = await t.app.inject({ method: 'PUT', url: '/test/items/42' });
    expectProblem(response, 405, 'request.method_not_allowed');
    expect(response.headers.allow).toBe('GET, HEAD');
  });

  it('validation → 400 with one entry per failing field', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/test/people', payload: { name: '', email: 'not-an-email', extra: true } });
    const body = expectProblem(response, 400, 'request.validation_failed');
    const errors = body.errors as Array<{ in: string; field: string; message: string }>;
    expect(errors.map((error) => [error.in, error.field]).sort()).toEqual([
      ['body', '/age'],
      ['body', '/email'],
      ['body', '/extra'],
      ['body', '/name'],
    ]);
    for (const error of errors) expect(error.message).toEqual(expect.any(String));
    expect(errors.find((error) => error.field === '/extra')!.message).toBe('is not an allowed property');
    expect(errors.find((error) => error.field === '/age')!.message).toMatch(/required/);
  });

  it('validation of an empty body names every missing field', async () => {
    const body = expectProblem(await t.app.inject({ method: 'POST', url: '/test/people', payload: {} }), 400, 'request.validation_failed');
    expect((body.errors as Array<{ field: string }>).map((error) => error.field).sort()).toEqual(['/age', '/email', '/name']);
  });

  it('validation of params and query says which part failed', async () => {
    const body = expectProblem(await t.app.inject({ url: '/test/items/abc' }), 400, 'request.validation_failed');
    expect(body.errors).toEqual([{ in: 'params', field: '/id', message: expect.any(String) }]);
    const query = expectProblem(await t.app.inject({ url: '/test/items/1?limit=1000' }), 400, 'request.validation_failed');
    expect(query.errors).toEqual([{ in: 'querystring', field: '/limit', message: expect.any(String) }]);
  });

  it('a valid request passes', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/test/people', payload: { name: 'Ada', email: 'ada@example.com', age: 36 } });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({ name: 'Ada', email: 'ada@example.com', age: 36 });
  });

  it('malformed JSON → 400 request.malformed_json', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"name": ' });
    expectProblem(response, 400, 'request.malformed_json');
  });

  it('unsupported media type → 415', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
    expectProblem(response, 415, 'request.unsupported_media_type');
  });

  it('a body over BODY_LIMIT_BYTES → 413', async () => {
    const payload = JSON.stringify({ filler: 'x'.repeat(BODY_LIMIT) });
    expectProblem(await t.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload }), 413, 'request.body_too_large');
    // Just under the limit is accepted: the limit is the configured one, not Fastify's 1 MiB default.
    const fits = JSON.stringify({ filler: 'x'.repeat(BODY_LIMIT - 20) });
    expect((await t.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: fits })).statusCode).toBe(200);
  });

  it('an undecodable URL → 400 request.invalid_url (raised while routing, before any hook)', async () => {
    expectProblem(await t.app.inject({ url: '/test/items/%zz' }), 400, 'request.invalid_url');
  });

  it('an over-long path parameter → 414 request.uri_too_long', async () => {
    expectProblem(await t.app.inject({ url: `/test/items/${'1'.repeat(101)}` }), 414, 'request.uri_too_long');
  });

  it('an internal error → 500 internal.error with no internal detail', async () => {
    const response = await t.app.inject({ url: '/test/boom' });
    const body = expectProblem(response, 500, 'internal.error');
    expect(response.body).not.toContain('Hunter2');
    expect(response.body).not.toContain('db.internal');
    expect(response.body).not.toContain('stack');
    expect(body.detail).toBe('An unexpected error occurred. Quote the request id when reporting it.');
  });
});

describe('X-Request-Id', () => {
  it('is minted (a UUIDv7) on every response, errors included', async () => {
    for (const request of [{ url: '/health' }, { url: '/nope' }, { url: '/test/boom' }] as const) {
      const response = await t.app.inject(request);
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it('honours a sane incoming id', async () => {
    const response = await t.app.inject({ url: '/nope', headers: { 'x-request-id': 'lb-7f3a:trace/42' } });
    expect(response.headers['x-request-id']).toBe('lb-7f3a:trace/42');
    expect(response.json().requestId).toBe('lb-7f3a:trace/42');
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['with a space', 'abc def'],
    ['with a newline', 'abc\ndef'],
    ['with a tab', 'abc\tdef'],
    ['with quotes and braces', '{"x":1}'],
  ])('replaces an id %s', async (_why, id) => {
    // Node's HTTP parser already refuses CR/LF from real clients; inject delivers it, so the app's own
    // check is what is tested here.
    const response = await t.app.inject({ url: '/health', headers: { 'x-request-id': id } });
    expect(response.headers['x-request-id']).not.toBe(id);
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a 128-character id (the limit itself)', async () => {
    const id = 'a'.repeat(128);
    expect((await t.app.inject({ url: '/health', headers: { 'x-request-id': id } })).headers['x-request-id']).toBe(id);
  });
});

describe('security headers and CORS', () => {
  it('sets helmet headers on API responses', async () => {
    const response = await t.app.inject({ url: '/health' });
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBe('DENY');
    expect(response.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    expect(response.headers['x-powered-by']).toBeUndefined();
  });

  it('does not ask browsers to upgrade to https when the public URL is plain http (embedded mode)', async () => {
    expect(t.config.http.publicUrl).toMatch(/^http:/);
    for (const url of ['/health', '/docs']) expect((await t.app.inject({ url })).headers['content-security-policy'], url).not.toContain('upgrade-insecure-requests');
  });

  it('sets them on error responses too', async () => {
    const response = await t.app.inject({ url: '/nope' });
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toBeDefined();
  });

  it('allows a configured origin, with credentials and the request id exposed', async () => {
    const response = await t.app.inject({ url: '/health', headers: { origin: 'https://console.example.com' } });
    expect(response.headers['access-control-allow-origin']).toBe('https://console.example.com');
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(String(response.headers['access-control-expose-headers'])).toContain('X-Request-Id');
  });

  it('answers a preflight from a configured origin', async () => {
    const response = await t.app.inject({
      method: 'OPTIONS',
      url: '/test/people',
      headers: { origin: 'https://console.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(response.statusCode).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe('https://console.example.com');
    expect(String(response.headers['access-control-allow-methods'])).toContain('POST');
  });

  it('does not allow any other origin', async () => {
    const response = await t.app.inject({ url: '/health', headers: { origin: 'https://evil.example.net' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/test/people',
      headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('security headers behind an https public URL', () => {
  let secure: TestApp;
  beforeAll(async () => {
    secure = await createTestApp({ PUBLIC_URL: 'https://api.example.com' });
  });
  afterAll(() => secure?.close());

  it('asks browsers to upgrade insecure requests, on the API and the docs UI', async () => {
    for (const url of ['/health', '/docs']) expect((await secure.app.inject({ url })).headers['content-security-policy'], url).toContain('upgrade-insecure-requests');
  });
});

describe('logs', () => {
  let logged: TestApp;
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];

  beforeAll(async () => {
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          raw.push(line);
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        callback();
      },
    });
    const overrides = { LOG_LEVEL: 'info' };
    logged = await createTestApp(overrides, { logger: createLogger(testConfig(overrides), destination), configure: registerTestRoutes });
  });
  afterAll(() => logged?.close());

  it('redact credentials in headers and bodies, and tag every request line with its request id', async () => {
    const secrets = { password: 'pw-Xyzzy-123', token: 'tok-Plugh-456', refreshToken: 'rt-Frob-789', secret: 'sec-Quux-000' };
    const response = await logged.app.inject({
      method: 'POST',
      url: '/test/log-body',
      headers: { authorization: 'Bearer jwt-Grault-abc', cookie: 'session=ck-Garply-def', 'x-api-key': 'ak-Waldo-ghi' },
      payload: { name: 'visible-name', ...secrets },
    });
    expect(response.statusCode).toBe(200);
    const requestId = response.headers['x-request-id'];

    const text = raw.join('\n');
    for (const secret of [...Object.values(secrets), 'jwt-Grault-abc', 'ck-Garply-def', 'ak-Waldo-ghi']) expect(text).not.toContain(secret);

    const payloadLine = lines.find((line) => line.msg === 'test payload');
    expect(payloadLine).toMatchObject({
      requestId,
      body: { name: 'visible-name', password: '[redacted]', token: '[redacted]', refreshToken: '[redacted]', secret: '[redacted]' },
      headers: { authorization: '[redacted]', cookie: '[redacted]', 'x-api-key': '[redacted]' },
    });

    const requestLines = lines.filter((line) => line.req || line.res || line.msg === 'test payload');
    expect(requestLines.map((line) => line.msg)).toEqual(expect.arrayContaining(['test payload', 'request completed']));
    for (const line of requestLines) expect(line.requestId).toEqual(expect.any(String));
    // One access-log line per request (on completion), plus what the handler logged.
    expect(lines.filter((line) => line.requestId === requestId).map((line) => line.msg)).toEqual(['test payload', 'request completed']);
    expect(lines.find((line) => line.requestId === requestId && line.msg === 'request completed')).toMatchObject({
      req: { method: 'POST', url: '/test/log-body' },
      res: { statusCode: 200 },
    });
    expect(lines.some((line) => 'reqId' in line)).toBe(false);
  });

  it('log a 500 with its error and request id, while the response stays generic', async () => {
    const response = await logged.app.inject({ url: '/test/boom' });
    const line = lines.find((entry) => entry.msg === 'request failed' && entry.requestId === response.headers['x-request-id']);
    expect(line).toMatchObject({ level: 50, err: { message: expect.stringContaining('connection to') } });
  });
});

describe('while shutting down', () => {
  it('answers a request arriving on an open connection with 503 problem+json and Connection: close', async () => {
    const signal = () => {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => (resolve = done));
      return { promise, resolve };
    };
    const slowEntered = signal();
    const releaseSlow = signal();
    const closeBegan = signal();
    const lateAnswered = signal();
    const draining = await createTestApp(
      {},
      {
        configure: async (app) => {
          app.addHook('preClose', async () => closeBegan.resolve());
          app.addHook('onSend', async (request) => {
            if (request.url === '/test/late') lateAnswered.resolve();
          });
          app.get('/test/slow', { config: { public: true } }, async () => {
            slowEntered.resolve();
            await releaseSlow.promise;
            return { ok: true };
          });
          app.get('/test/late', { config: { public: true } }, async () => ({ ok: true }));
        },
      },
    );
    await draining.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = draining.app.server.address() as net.AddressInfo;

    // One keep-alive connection: a slow request holds it open while the server starts draining, then a
    // second request arrives on it (new connections are no longer accepted by then).
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    const socketClosed = new Promise((resolve) => socket.on('close', resolve));
    socket.write('GET /test/slow HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await slowEntered.promise;
    const closed = draining.close();
    await closeBegan.promise;
    socket.write('GET /test/late HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await lateAnswered.promise;
    releaseSlow.resolve();
    await socketClosed;
    await closed;

    const [first, second] = received.split(/(?=HTTP\/1\.1 \d{3} )/);
    expect(first).toMatch(/^HTTP\/1\.1 200 /); // the request in flight completes
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(second).toMatch(/\r\ncontent-type: application\/problem\+json; charset=utf-8\r\n/i);
    expect(second).toMatch(/\r\nconnection: close\r\n/i);
    const requestId = /\r\nx-request-id: ([^\r]+)\r\n/i.exec(second!)?.[1];
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(second!.slice(second!.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 503, code: 'service.unavailable', requestId });
  });
});
