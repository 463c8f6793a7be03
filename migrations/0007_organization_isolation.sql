-- Tenant isolation for the organization tables (same policy shape as 0001_tenant_isolation).
ALTER TABLE stores ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE stores FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY stores_tenant_isolation ON stores
  USING (tenant_id = (SELECT app_current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));
--> statement-breakpoint
ALTER TABLE store_members ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE store_members FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY store_members_tenant_isolation ON store_members
  USING (tenant_id = (SELECT app_current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));
--> statement-breakpoint
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY invitations_tenant_isolation ON invitations
  USING (tenant_id = (SELECT app_current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));
--> statement-breakpoint

-- Authentication learns the store context in the same statement: whether the store named by X-Store-ID
-- is a live store of the token's tenant, and whether the person is assigned to it (p_store_id NULL: no
-- store context asked for). The person's profile fields serve GET /users/me.
DROP FUNCTION session_actor(uuid, uuid, uuid);
--> statement-breakpoint
CREATE FUNCTION session_actor(p_session_id uuid, p_user_id uuid, p_tenant_id uuid, p_store_id uuid)
  RETURNS TABLE (
    email text, name text, email_verified_at timestamptz, totp_enabled_at timestamptz, created_at timestamptz,
    locale text, timezone text, phone text,
    platform_role text, mfa_verified boolean, session_created_at timestamptz,
    membership_status text, membership_role text, membership_title text,
    tenant_name text, tenant_slug text, tenant_status text, tenant_settings jsonb,
    store_exists boolean, store_role text
  )
  LANGUAGE plpgsql VOLATILE
  SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM set_config('app.user_id', p_user_id::text, true), set_config('app.tenant_id', coalesce(p_tenant_id::text, ''), true);
  RETURN QUERY
    SELECT u.email, u.name, u.email_verified_at, u.totp_enabled_at, u.created_at,
           u.locale, u.timezone, u.phone,
           u.platform_role, s.mfa_verified, s.created_at,
           m.status, m.role, m.title,
           t.name, t.slug, t.status, t.settings,
           st.id IS NOT NULL, sm.role
      FROM sessions s
      JOIN users u ON u.id = s.user_id AND u.status = 'active'
      LEFT JOIN memberships m ON m.tenant_id = p_tenant_id AND m.user_id = s.user_id
      LEFT JOIN tenants t ON t.id = p_tenant_id
      LEFT JOIN stores st ON st.tenant_id = p_tenant_id AND st.id = p_store_id AND st.deleted_at IS NULL
      LEFT JOIN store_members sm ON sm.tenant_id = p_tenant_id AND sm.store_id = p_store_id AND sm.user_id = s.user_id
     WHERE s.id = p_session_id AND s.user_id = p_user_id
       AND s.revoked_at IS NULL AND s.idle_expires_at > now() AND s.expires_at > now();
END
$$;
