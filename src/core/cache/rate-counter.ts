/**
 * Fixed-window counters: "how many times has `key` happened in the current window?". HTTP rate limits
 * count through one (src/core/http/rate-limit.ts) and so can anything else that must count attempts —
 * failed logins per account, reset mails per address. Redis when REDIS_URL is set, so every process
 * shares one count; process memory otherwise (DESIGN §2).
 */
import type { Redis } from 'ioredis';

/** The state of one key's window after a hit. */
export interface RateCount {
  /** Hits in the current window, this one included (1 on the first hit of a window). */
  count: number;
  /** When the current window ends and the count starts again from zero (epoch milliseconds). */
  resetAt: number;
}

/** Counts hits per key in fixed windows; atomic, so concurrent hits each get a distinct count. */
export interface RateCounter {
  /** Counts one hit on `key`; the first hit of a window starts a window of `windowMs`. */
  hit(key: string, windowMs: number): Promise<RateCount>;
  /** Reads `key`'s current window without counting; null when no window is open. */
  peek(key: string): Promise<RateCount | null>;
  /** Forgets `key` (e.g. a successful login clears its failed-attempt counter). */
  reset(key: string): Promise<void>;
}

/** Thrown when the Redis backend cannot answer; callers decide whether to fail open or closed. */
export class RateCounterUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RateCounterUnavailableError';
  }
}

/**
 * INCR and PEXPIRE run as one script so a window can never be left without an expiry (a crash between
 * two separate commands would make the key immortal) and concurrent hits can never both see count 1.
 * A key without a TTL (written by something else) is given one rather than trusted.
 */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

const PEEK_SCRIPT = `
local count = redis.call('GET', KEYS[1])
if not count then return nil end
return {tonumber(count), redis.call('PTTL', KEYS[1])}
`;

type ScriptedRedis = Redis & {
  atriumRateHit(key: string, windowMs: number): Promise<[number, number]>;
  atriumRatePeek(key: string): Promise<[number, number] | null>;
};

/** Options of {@link createRedisRateCounter}. */
export interface RedisRateCounterOptions {
  /** Prepended to every key, so the counters share a Redis with other data safely. */
  prefix?: string;
}

/**
 * A counter on Redis, shared by every process connected to it. When the connection is not ready the
 * call fails at once with {@link RateCounterUnavailableError} instead of waiting in ioredis's offline
 * queue: a limiter must never add a reconnect's latency to every request.
 */
export function createRedisRateCounter(redis: Redis, options: RedisRateCounterOptions = {}): RateCounter {
  const prefix = options.prefix ?? 'atrium:';
  // defineCommand sends EVALSHA (falling back to EVAL once per connection), so the script is not
  // re-sent on every hit; guarded because several counters may share one connection.
  if (!('atriumRateHit' in redis)) redis.defineCommand('atriumRateHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  if (!('atriumRatePeek' in redis)) redis.defineCommand('atriumRatePeek', { numberOfKeys: 1, lua: PEEK_SCRIPT });
  const scripted = redis as ScriptedRedis;

  async function call<T>(run: () => Promise<T>): Promise<T> {
    if (redis.status !== 'ready') throw new RateCounterUnavailableError(`Redis is not ready (status: ${redis.status})`);
    try {
      return await run();
    } catch (error) {
      throw new RateCounterUnavailableError(`Redis rate counter failed: ${(error as Error).message}`, { cause: error });
    }
  }

  return {
    hit: async (key, windowMs) => {
      const window = Math.max(1, Math.ceil(windowMs));
      const [count, ttl] = await call(() => scripted.atriumRateHit(prefix + key, window));
      return { count, resetAt: Date.now() + Math.max(0, ttl) };
    },
    peek: async (key) => {
      const result = await call(() => scripted.atriumRatePeek(prefix + key));
      if (!result || result[1] < 0) return null;
      return { count: result[0], resetAt: Date.now() + result[1] };
    },
    reset: async (key) => {
      await call(() => redis.del(prefix + key));
    },
  };
}

/** Options of {@link createMemoryRateCounter}. */
export interface MemoryRateCounterOptions {
  /** Most keys kept at once; past it the oldest window is dropped (memory stays bounded under key spraying). */
  maxKeys?: number;
  /** Clock in epoch milliseconds; tests pass their own to move time without waiting. */
  now?: () => number;
}

/**
 * A counter in this process's memory (embedded mode, or tests). Bounded: entries live in a Map in the
 * order their windows opened, so expired windows mostly sit at the front, where each hit sweeps a few of
 * them (no timer to stop), and eviction when full drops the oldest window first.
 */
export function createMemoryRateCounter(options: MemoryRateCounterOptions = {}): RateCounter {
  const maxKeys = Math.max(1, options.maxKeys ?? 100_000);
  const now = options.now ?? Date.now;
  const windows = new Map<string, RateCount>();

  function sweepExpired(at: number, budget: number): void {
    for (const [key, window] of windows) {
      if (budget-- <= 0 || window.resetAt > at) return;
      windows.delete(key);
    }
  }

  function findOpen(key: string, at: number): RateCount | undefined {
    const window = windows.get(key);
    if (window && window.resetAt <= at) {
      windows.delete(key);
      return undefined;
    }
    return window;
  }

  return {
    hit: async (key, windowMs) => {
      const at = now();
      sweepExpired(at, 2);
      const open = findOpen(key, at);
      if (open) {
        open.count += 1;
        return { ...open };
      }
      while (windows.size >= maxKeys) {
        const oldest = windows.keys().next().value as string;
        windows.delete(oldest);
      }
      const window = { count: 1, resetAt: at + Math.max(1, Math.ceil(windowMs)) };
      windows.set(key, window);
      return { ...window };
    },
    peek: async (key) => {
      const open = findOpen(key, now());
      return open ? { ...open } : null;
    },
    reset: async (key) => {
      windows.delete(key);
    },
  };
}

/** The platform's counter: Redis when a connection is given, memory otherwise. */
export function createRateCounter(redis: Redis | undefined, options: RedisRateCounterOptions & MemoryRateCounterOptions = {}): RateCounter {
  return redis ? createRedisRateCounter(redis, options) : createMemoryRateCounter(options);
}
