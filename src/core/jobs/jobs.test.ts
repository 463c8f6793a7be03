import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { JOB_SCHEMA } from '../db/roles.js';
import { DEAD_LETTER_QUEUE, type JobQueue } from './jobs.js';

let t: TestApp;
let jobs: JobQueue;
beforeAll(async () => {
  t = await createTestApp();
  jobs = t.platform.jobs;
});
afterAll(() => t?.close());

const uniqueQueue = (prefix: string) => `test.${prefix}.${randomBytes(4).toString('hex')}`;

interface JobRow extends Record<string, unknown> {
  id: string;
  name: string;
  state: string;
  retry_count: number;
  data: Record<string, unknown>;
  output: { message?: string } | null;
}

/** Jobs of a queue as stored (read past the JobQueue API, so the assertion does not trust it). */
const readJobs = (queue: string) => t.admin.query<JobRow>(`SELECT id, name, state, retry_count, data, output FROM ${JOB_SCHEMA}.job WHERE name = $1 ORDER BY created_on`, [queue]);

describe('job retries', () => {
  it('backs off between attempts and moves a job that keeps failing to the dead-letter queue', async () => {
    const queue = uniqueQueue('failing');
    const marker = randomBytes(8).toString('hex');
    const retryLimit = 2;
    await jobs.define({ name: queue, retryLimit, retryDelaySeconds: 1 });

    // When each attempt started, by the database clock (started_on is set as the job is fetched).
    const startedOn: Date[] = [];
    await jobs.work<{ marker: string }>(
      queue,
      async (job) => {
        const [row] = await t.admin.query<{ started_on: Date }>(`SELECT started_on FROM ${JOB_SCHEMA}.job WHERE name = $1 AND id = $2`, [queue, job.id]);
        startedOn.push(new Date(row!.started_on));
        throw new Error(`attempt ${startedOn.length} failed`);
      },
      { pollingIntervalSeconds: 0.5 },
    );
    const id = await jobs.send(queue, { marker });
    expect(id).toEqual(expect.any(String));

    const deadLetter = await vi.waitFor(
      async () => {
        const [dead] = (await readJobs(DEAD_LETTER_QUEUE)).filter((job) => job.data.marker === marker);
        if (!dead) throw new Error('not dead-lettered yet');
        return dead;
      },
      { timeout: 25_000, interval: 100 },
    );

    expect(startedOn).toHaveLength(retryLimit + 1);
    expect(deadLetter.data).toEqual({ marker });
    expect(deadLetter.output?.message).toBe(`attempt ${retryLimit + 1} failed`);
    expect(await jobs.getJob(queue, id!)).toMatchObject({ state: 'failed', retryCount: retryLimit });

    // Exponential backoff from a 1 s base: retry n waits at least 2^(n-1) s after the failure, so the
    // gaps between attempt starts can only be longer than that (lower bounds: never flaky).
    const gapsSeconds = startedOn.slice(1).map((started, i) => (started.getTime() - startedOn[i]!.getTime()) / 1000);
    expect(gapsSeconds[0]).toBeGreaterThanOrEqual(1);
    expect(gapsSeconds[1]).toBeGreaterThanOrEqual(2);
  });

  it('retries a job that fails once and then completes it', async () => {
    const queue = uniqueQueue('flaky');
    await jobs.define({ name: queue, retryLimit: 3, retryDelaySeconds: 1 });
    let attempts = 0;
    await jobs.work(
      queue,
      async () => {
        attempts += 1;
        if (attempts === 1) throw new Error('transient');
      },
      { pollingIntervalSeconds: 0.5 },
    );
    const id = await jobs.send(queue, { n: 1 });
    const finished = await vi.waitFor(
      async () => {
        const job = await jobs.getJob(queue, id!);
        if (job?.state !== 'completed') throw new Error(`job is ${job?.state}`);
        return job;
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(attempts).toBe(2);
    expect(finished.retryCount).toBe(1);
  });
});

describe('batches', () => {
  it('fails only the job that threw: the rest of its batch still runs, once', async () => {
    const queue = uniqueQueue('batch');
    await jobs.define({ name: queue, retryLimit: 0 });
    // Both enqueued before the worker starts, so its first fetch takes them as one batch (in no set order).
    const poison = await jobs.send(queue, { kind: 'poison' });
    const good = await jobs.send(queue, { kind: 'good' });
    const handled: string[] = [];
    await jobs.work<{ kind: string }>(
      queue,
      async (job) => {
        handled.push(job.data.kind);
        if (job.data.kind === 'poison') throw new Error('poison');
      },
      { batchSize: 2, pollingIntervalSeconds: 0.5 },
    );
    await vi.waitFor(
      async () => {
        const states = (await readJobs(queue)).map((job) => job.state);
        if (states.some((state) => state === 'created' || state === 'active')) throw new Error(`jobs are ${states.join(', ')}`);
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(handled.sort()).toEqual(['good', 'poison']);
    expect(await jobs.getJob(queue, good!)).toMatchObject({ state: 'completed', retryCount: 0 });
    expect(await jobs.getJob(queue, poison!)).toMatchObject({ state: 'failed', output: expect.objectContaining({ message: 'poison' }) });
  });
});

describe('enqueueing', () => {
  it('enqueues with the transaction: a rollback leaves no job, a commit leaves one', async () => {
    const queue = uniqueQueue('transactional');
    await jobs.define({ name: queue });

    const error = await t.platform.db
      .transaction({}, async (_tx, executor) => {
        await jobs.send(queue, { outcome: 'rolled-back' }, { db: executor });
        await jobs.insert(queue, [{ data: { outcome: 'rolled-back-batch' } }], executor);
        // Visible inside the transaction: the insert really went through this executor.
        const { rows } = await executor.executeSql(`SELECT count(*)::int AS n FROM ${JOB_SCHEMA}.job WHERE name = $1`, [queue]);
        expect(rows[0]).toEqual({ n: 2 });
        throw new Error('rollback');
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('rollback');
    expect(await readJobs(queue)).toEqual([]);

    await t.platform.db.transaction({}, async (_tx, executor) => {
      await jobs.send(queue, { outcome: 'committed' }, { db: executor });
    });
    expect((await readJobs(queue)).map((job) => job.data)).toEqual([{ outcome: 'committed' }]);
  });

  it('reports queue sizes for every defined queue', async () => {
    const queue = uniqueQueue('sizes');
    await jobs.define({ name: queue });
    const before = await jobs.queueSizes();
    expect(before[queue]).toBe(0);
    expect(before[DEAD_LETTER_QUEUE]).toEqual(expect.any(Number));

    await jobs.send(queue, { n: 1 });
    await jobs.insert(queue, [{ data: { n: 2 } }, { data: { n: 3 } }]);
    expect((await jobs.queueSizes())[queue]).toBe(3);
  });

  it('enqueues a job id only once (hand-offs can be retried safely)', async () => {
    const queue = uniqueQueue('dedupe');
    await jobs.define({ name: queue });
    const id = '0190a7e4-0000-7000-8000-000000000001';
    expect(await jobs.send(queue, { n: 1 }, { id })).toBe(id);
    expect(await jobs.send(queue, { n: 2 }, { id })).toBeNull();
    expect((await readJobs(queue)).map((job) => job.data)).toEqual([{ n: 1 }]);
  });
});
