/**
 * `GET /admin/stats`: the platform in numbers — tenants by status, people, live stores and sign-ups per
 * UTC day over the last 30 days — in one statement, in a platform unit of work (it counts every tenant's
 * stores, which only the platform read role may see).
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../../core/db/database.js';
import type { PlatformStatsView } from './users.admin.schemas.js';

/** How many UTC days `signupsPerDay` covers, today included. */
export const SIGNUP_DAYS = 30;

interface StatsRow extends Record<string, unknown> {
  tenants: { active: number; suspended: number; closed: number; total: number };
  users: { total: number; disabled: number };
  live_stores: number | string;
  signups: Array<{ date: string; count: number }>;
}

/** The numbers as of now. Every day of the window is present (zeros included), oldest first. */
export async function platformStats(db: Database): Promise<PlatformStatsView> {
  const row = await db.transaction({ platform: true }, async (tx) => {
    // Sign-ups are grouped once over the window (not counted per day) and joined onto the calendar, so
    // a day without any still shows, with 0.
    const result = await tx.execute<StatsRow>(sql`
      WITH today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS day),
      days AS (
        SELECT generate_series(today.day - ${SIGNUP_DAYS - 1}::int, today.day, interval '1 day')::date AS day FROM today
      ),
      signups AS (
        SELECT (u.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
          FROM users u, today
         WHERE u.created_at >= (today.day - ${SIGNUP_DAYS - 1}::int)::timestamp AT TIME ZONE 'UTC'
         GROUP BY 1
      )
      SELECT
        (SELECT json_build_object(
                  'active', count(*) FILTER (WHERE status = 'active'),
                  'suspended', count(*) FILTER (WHERE status = 'suspended'),
                  'closed', count(*) FILTER (WHERE status = 'closed'),
                  'total', count(*))
           FROM tenants) AS tenants,
        (SELECT json_build_object('total', count(*), 'disabled', count(*) FILTER (WHERE status = 'disabled')) FROM users) AS users,
        (SELECT count(*) FROM stores s JOIN tenants t ON t.id = s.tenant_id WHERE s.deleted_at IS NULL AND t.status <> 'closed') AS live_stores,
        (SELECT json_agg(json_build_object('date', to_char(days.day, 'YYYY-MM-DD'), 'count', coalesce(signups.n, 0)) ORDER BY days.day)
           FROM days LEFT JOIN signups USING (day)) AS signups`);
    return result.rows[0]!;
  });
  const count = (value: number | string) => Number(value);
  return {
    tenants: { active: count(row.tenants.active), suspended: count(row.tenants.suspended), closed: count(row.tenants.closed), total: count(row.tenants.total) },
    users: { total: count(row.users.total), disabled: count(row.users.disabled) },
    stores: { live: count(row.live_stores) },
    signupsPerDay: row.signups.map((day) => ({ date: day.date, count: count(day.count) })),
  };
}
