-- Tenant isolation backstop (DESIGN §5, layer 3). Hand-written; role-specific grants live in
-- src/core/db/roles.ts because role names are configurable.
--
-- The context is read with current_setting(..., true): NULL when never set, '' after a transaction that
-- set it locally has ended. nullif(...) turns both into NULL, so a missing context matches no row (fails
-- closed) instead of raising a cast error. The (select ...) wrapper makes Postgres evaluate it once per
-- statement (an InitPlan), not once per row.

CREATE FUNCTION app_current_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
--> statement-breakpoint
CREATE FUNCTION app_current_user_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
--> statement-breakpoint

-- Tenant-owned tables: one policy for every command, USING and WITH CHECK.
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY memberships_tenant_isolation ON memberships
  USING (tenant_id = (SELECT app_current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));
--> statement-breakpoint
-- A person may read their own memberships across tenants (login, tenant switcher). Read-only.
CREATE POLICY memberships_own_read ON memberships FOR SELECT
  USING (user_id = (SELECT app_current_user_id()));
--> statement-breakpoint

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY audit_events_tenant_isolation ON audit_events
  USING (tenant_id = (SELECT app_current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));
--> statement-breakpoint

ALTER TABLE outbox_events ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE outbox_events FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY outbox_events_tenant_isolation ON outbox_events
  USING (tenant_id = (SELECT app_current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));
--> statement-breakpoint

ALTER TABLE event_receipts ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE event_receipts FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY event_receipts_tenant_isolation ON event_receipts
  USING (tenant_id = (SELECT app_current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));
--> statement-breakpoint

-- The tenants table is keyed by id rather than tenant_id: a tenant sees its own row, and a person sees
-- the tenants they belong to (through the membership policy above).
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenants_tenant_isolation ON tenants
  USING (id = (SELECT app_current_tenant_id()))
  WITH CHECK (id = (SELECT app_current_tenant_id()));
--> statement-breakpoint
CREATE POLICY tenants_member_read ON tenants FOR SELECT
  USING (EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = tenants.id AND m.user_id = (SELECT app_current_user_id())));
--> statement-breakpoint

-- The outbox relay is the one reader that must cross tenants. It goes through this narrowly scoped
-- SECURITY DEFINER function (fixed search_path; owned by the owner role, whose relay policy is created
-- in roles.ts), which claims a batch with FOR UPDATE SKIP LOCKED: rows committed out of order are never
-- skipped, and concurrent relays never take the same row. The row locks last until the caller's
-- transaction ends, so marking them published commits or rolls back with the hand-off to the job queue.
CREATE FUNCTION claim_outbox_events(batch_size integer)
  RETURNS TABLE (tenant_id uuid, id uuid, type text, payload jsonb, created_at timestamptz)
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
    WITH claimed AS (
      SELECT o.tenant_id, o.id FROM public.outbox_events o
      WHERE o.published_at IS NULL
      ORDER BY o.created_at, o.id
      LIMIT least(greatest(batch_size, 1), 1000)
      FOR UPDATE SKIP LOCKED
    )
    UPDATE public.outbox_events o
      SET published_at = now(), attempts = o.attempts + 1
      FROM claimed c
      WHERE o.tenant_id = c.tenant_id AND o.id = c.id
      RETURNING o.tenant_id, o.id, o.type, o.payload, o.created_at
  $$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION claim_outbox_events(integer) FROM PUBLIC;
