import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryRateCounter, createRedisRateCounter, RateCounterUnavailableError, type RateCounter } from './rate-counter.js';

const uniqueKey = (label: string) => `test:${label}:${randomBytes(6).toString('hex')}`;

/** Every hit of a burst must get its own count: no two callers may both believe they were first. */
async function expectDistinctCounts(counters: RateCounter[], key: string, hits: number): Promise<void> {
  const results = await Promise.all(Array.from({ length: hits }, (_, i) => counters[i % counters.length]!.hit(key, 60_000)));
  const counts = results.map((result) => result.count).sort((a, b) => a - b);
  expect(counts).toEqual(Array.from({ length: hits }, (_, i) => i + 1));
}

describe('memory rate counter', () => {
  it('gives 200 parallel hits the counts 1..200, each exactly once', async () => {
    await expectDistinctCounts([createMemoryRateCounter()], 'burst', 200);
  });

  it('counts keys separately and reports when the window ends', async () => {
    let now = 1_000_000;
    const counter = createMemoryRateCounter({ now: () => now });
    expect(await counter.hit('a', 5000)).toEqual({ count: 1, resetAt: 1_005_000 });
    now += 1000;
    // The window keeps its start: a later hit does not push the reset time back.
    expect(await counter.hit('a', 5000)).toEqual({ count: 2, resetAt: 1_005_000 });
    expect(await counter.hit('b', 5000)).toEqual({ count: 1, resetAt: 1_006_000 });
  });

  it('expires a key once its window has passed, and starts a new window on the next hit', async () => {
    let now = 0;
    const counter = createMemoryRateCounter({ now: () => now });
    await counter.hit('k', 1000);
    await counter.hit('k', 1000);
    now = 999;
    expect(await counter.peek('k')).toEqual({ count: 2, resetAt: 1000 });
    now = 1000;
    expect(await counter.peek('k')).toBeNull();
    expect(await counter.hit('k', 1000)).toEqual({ count: 1, resetAt: 2000 });
  });

  it('forgets a key on reset', async () => {
    const counter = createMemoryRateCounter();
    await counter.hit('k', 60_000);
    await counter.hit('k', 60_000);
    await counter.reset('k');
    expect(await counter.peek('k')).toBeNull();
    expect((await counter.hit('k', 60_000)).count).toBe(1);
  });

  it('stays within maxKeys by dropping the oldest window', async () => {
    const counter = createMemoryRateCounter({ maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd']) await counter.hit(key, 60_000);
    expect(await counter.peek('a')).toBeNull();
    for (const key of ['b', 'c', 'd']) expect(await counter.peek(key)).toMatchObject({ count: 1 });
  });
});

describe('redis rate counter without a connection', () => {
  it('fails at once with RateCounterUnavailableError instead of queueing the command', async () => {
    // Never connected (lazyConnect): status "wait". Nothing listens on port 1 either.
    const offline = new Redis('redis://127.0.0.1:1', { lazyConnect: true });
    try {
      const counter = createRedisRateCounter(offline);
      await expect(counter.hit('k', 1000)).rejects.toBeInstanceOf(RateCounterUnavailableError);
      await expect(counter.peek('k')).rejects.toBeInstanceOf(RateCounterUnavailableError);
      expect(offline.status).toBe('wait');
    } finally {
      offline.disconnect();
    }
  });
});

describe.runIf(!!process.env.REDIS_URL)('redis rate counter', () => {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const clients: Redis[] = [];
  let counters: RateCounter[];

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) clients.push(new Redis(url, { lazyConnect: true }));
    await Promise.all(clients.map((client) => client.connect()));
    counters = clients.map((client) => createRedisRateCounter(client, { prefix: 'atrium-test:' }));
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit()));
  });

  it('gives 200 parallel hits from four connections the counts 1..200, each exactly once', async () => {
    await expectDistinctCounts(counters, uniqueKey('burst'), 200);
  });

  it('stores the key under its prefix with an expiry no longer than the window', async () => {
    const key = uniqueKey('ttl');
    const before = Date.now();
    const first = await counters[0]!.hit(key, 60_000);
    const second = await counters[1]!.hit(key, 60_000);
    expect([first.count, second.count]).toEqual([1, 2]);
    expect(first.resetAt).toBeGreaterThan(before);
    expect(first.resetAt).toBeLessThanOrEqual(Date.now() + 60_000);
    const ttl = await clients[0]!.pttl(`atrium-test:${key}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('gives a key left without an expiry one on the next hit, so it cannot live forever', async () => {
    const key = uniqueKey('immortal');
    await clients[0]!.set(`atrium-test:${key}`, '5');
    expect((await counters[0]!.hit(key, 60_000)).count).toBe(6);
    expect(await clients[0]!.pttl(`atrium-test:${key}`)).toBeGreaterThan(0);
  });

  it('peeks without counting and forgets a key on reset', async () => {
    const key = uniqueKey('reset');
    expect(await counters[0]!.peek(key)).toBeNull();
    await counters[0]!.hit(key, 60_000);
    expect(await counters[1]!.peek(key)).toMatchObject({ count: 1 });
    expect(await counters[1]!.peek(key)).toMatchObject({ count: 1 });
    await counters[2]!.reset(key);
    expect(await counters[0]!.peek(key)).toBeNull();
    expect((await counters[3]!.hit(key, 60_000)).count).toBe(1);
  });
});
