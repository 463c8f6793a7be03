-- Tenant isolation for subscriptions (same policy shape as 0001_tenant_isolation).
ALTER TABLE subscriptions ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE subscriptions FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY subscriptions_tenant_isolation ON subscriptions
  USING (tenant_id = (SELECT app_current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));
--> statement-breakpoint

-- The subscription clock (trial end, period end, grace end) looks for due subscriptions across tenants,
-- through the platform role.
CREATE INDEX subscriptions_period_due_idx ON subscriptions (current_period_end, tenant_id) WHERE status IN ('trialing', 'active');
--> statement-breakpoint
CREATE INDEX subscriptions_grace_due_idx ON subscriptions (grace_ends_at, tenant_id) WHERE status = 'past_due';
--> statement-breakpoint

-- Cached entitlements are keyed by max(subscription revision, plan revision): every change of either takes
-- a new value of one sequence (never reused), in the change's own transaction.
CREATE FUNCTION entitlements_new_revision() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = public, pg_temp
  AS $$
BEGIN
  NEW.revision := nextval('entitlements_revision_seq');
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER subscriptions_new_revision BEFORE UPDATE ON subscriptions FOR EACH ROW EXECUTE FUNCTION entitlements_new_revision();
--> statement-breakpoint
CREATE TRIGGER plans_new_revision BEFORE UPDATE ON plans FOR EACH ROW EXECUTE FUNCTION entitlements_new_revision();
--> statement-breakpoint

-- Every tenant has its subscription, whatever path creates it: checked at commit, in the new tenant's own
-- context (RLS), so a path that forgets to start one fails instead of leaving a tenant without a plan.
CREATE FUNCTION tenants_require_subscription() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = public, pg_temp
  AS $$
DECLARE
  previous text := current_setting('app.tenant_id', true);
  missing boolean;
BEGIN
  PERFORM set_config('app.tenant_id', NEW.id::text, true);
  -- A tenant inserted and deleted in the same transaction needs none.
  SELECT EXISTS (SELECT 1 FROM tenants WHERE id = NEW.id) AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE tenant_id = NEW.id) INTO missing;
  PERFORM set_config('app.tenant_id', coalesce(previous, ''), true);
  IF missing THEN
    RAISE EXCEPTION 'tenant % was created without a subscription', NEW.id USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER tenants_require_subscription AFTER INSERT ON tenants
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tenants_require_subscription();
--> statement-breakpoint

-- Existing tenants start on the Free plan, active, for a monthly period beginning now.
DO $$
DECLARE t record;
BEGIN
  FOR t IN SELECT id FROM tenants LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    INSERT INTO subscriptions (tenant_id, id, plan_id, status, billing_cycle, current_period_start, current_period_end)
    SELECT t.id, uuidv7(), p.id, 'active', 'monthly', now(), now() + interval '1 month' FROM plans p WHERE p.code = 'free';
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
END
$$;
--> statement-breakpoint

-- Authentication also reads the tenant's subscription status (read-only when canceled or expired) and the
-- entitlements revision (the key of the cached entitlements), in the same statement.
DROP FUNCTION session_actor(uuid, uuid, uuid, uuid);
--> statement-breakpoint
CREATE FUNCTION session_actor(p_session_id uuid, p_user_id uuid, p_tenant_id uuid, p_store_id uuid)
  RETURNS TABLE (
    email text, name text, email_verified_at timestamptz, totp_enabled_at timestamptz, created_at timestamptz,
    locale text, timezone text, phone text,
    platform_role text, mfa_verified boolean, session_created_at timestamptz, impersonator_id uuid,
    membership_status text, membership_role text, membership_title text, membership_authz_version bigint,
    tenant_name text, tenant_slug text, tenant_status text, tenant_settings jsonb,
    store_exists boolean, store_role text,
    subscription_status text, entitlements_revision bigint
  )
  LANGUAGE plpgsql VOLATILE
  SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM set_config('app.user_id', p_user_id::text, true), set_config('app.tenant_id', coalesce(p_tenant_id::text, ''), true);
  RETURN QUERY
    SELECT u.email, u.name, u.email_verified_at, u.totp_enabled_at, u.created_at,
           u.locale, u.timezone, u.phone,
           u.platform_role, s.mfa_verified, s.created_at, s.impersonator_id,
           m.status, m.role, m.title, m.authz_version,
           t.name, t.slug, t.status, t.settings,
           st.id IS NOT NULL, sm.role,
           sub.status, greatest(sub.revision, p.revision)
      FROM sessions s
      JOIN users u ON u.id = s.user_id AND u.status = 'active'
      LEFT JOIN memberships m ON m.tenant_id = p_tenant_id AND m.user_id = s.user_id
      LEFT JOIN tenants t ON t.id = p_tenant_id
      LEFT JOIN stores st ON st.tenant_id = p_tenant_id AND st.id = p_store_id AND st.deleted_at IS NULL
      LEFT JOIN store_members sm ON sm.tenant_id = p_tenant_id AND sm.store_id = p_store_id AND sm.user_id = s.user_id
      LEFT JOIN subscriptions sub ON sub.tenant_id = p_tenant_id
      LEFT JOIN plans p ON p.id = sub.plan_id
     WHERE s.id = p_session_id AND s.user_id = p_user_id
       AND s.revoked_at IS NULL AND s.idle_expires_at > now() AND s.expires_at > now();
END
$$;
