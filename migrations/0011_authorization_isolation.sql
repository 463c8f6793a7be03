-- Tenant isolation for the authorization tables (same policy shape as 0001_tenant_isolation).
ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY roles_tenant_isolation ON roles
  USING (tenant_id = (SELECT app_current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));
--> statement-breakpoint
ALTER TABLE role_assignments ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE role_assignments FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY role_assignments_tenant_isolation ON role_assignments
  USING (tenant_id = (SELECT app_current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));
--> statement-breakpoint

-- The built-in roles of a tenant, created with it whatever path creates it (register, POST /tenants,
-- platform administration, fixtures). Runs as the caller, inside the new tenant's context: a tenant
-- inserted under another tenant's context fails here rather than seeding roles elsewhere.
-- A UUIDv7 (time-ordered, as the application mints them) for rows created in SQL.
CREATE FUNCTION uuidv7() RETURNS uuid
  LANGUAGE sql VOLATILE
  AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
      PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
  $$;
--> statement-breakpoint
CREATE FUNCTION insert_builtin_roles(p_tenant_id uuid) RETURNS void
  LANGUAGE sql VOLATILE
  SET search_path = public, pg_temp
  AS $$
    INSERT INTO roles (tenant_id, id, key, name, description, scope)
    SELECT p_tenant_id, uuidv7(), b.key, b.name, b.description, b.scope
      FROM (VALUES
        ('owner', 'Owner', 'Everything, including billing, closing the tenant and handing over ownership.', 'tenant'),
        ('admin', 'Admin', 'Everything but billing changes, closing the tenant and ownership.', 'tenant'),
        ('member', 'Member', 'Sees the tenant, its members, roles and stores.', 'tenant'),
        ('store_manager', 'Store manager', 'Runs a store: its details, settings and people.', 'store'),
        ('store_staff', 'Store staff', 'Works in a store and sees it.', 'store')
      ) AS b(key, name, description, scope)
  $$;
--> statement-breakpoint
CREATE FUNCTION tenants_builtin_roles() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM insert_builtin_roles(NEW.id);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER tenants_builtin_roles AFTER INSERT ON tenants FOR EACH ROW EXECUTE FUNCTION tenants_builtin_roles();
--> statement-breakpoint
-- Existing tenants get theirs now (the owner runs migrations under forced RLS: one tenant context each).
DO $$
DECLARE t record;
BEGIN
  FOR t IN SELECT id FROM tenants LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    PERFORM insert_builtin_roles(t.id);
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
END
$$;
--> statement-breakpoint

-- Cached permission sets are keyed by memberships.authz_version: any change to a member's custom roles,
-- or to the content of a role they hold, gives the membership a new version, in the same transaction.
CREATE FUNCTION role_assignments_touch_membership() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = public, pg_temp
  AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE memberships SET authz_version = nextval('authz_version_seq') WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE memberships SET authz_version = nextval('authz_version_seq') WHERE tenant_id = NEW.tenant_id AND user_id = NEW.user_id;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER role_assignments_touch_membership AFTER INSERT OR UPDATE OR DELETE ON role_assignments
  FOR EACH ROW EXECUTE FUNCTION role_assignments_touch_membership();
--> statement-breakpoint
CREATE FUNCTION roles_touch_holders() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = public, pg_temp
  AS $$
BEGIN
  UPDATE memberships m SET authz_version = nextval('authz_version_seq')
   WHERE m.tenant_id = NEW.tenant_id
     AND EXISTS (SELECT 1 FROM role_assignments a WHERE a.tenant_id = NEW.tenant_id AND a.role_id = NEW.id AND a.user_id = m.user_id);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER roles_touch_holders AFTER UPDATE OF permissions, scope ON roles
  FOR EACH ROW WHEN (OLD.permissions IS DISTINCT FROM NEW.permissions OR OLD.scope IS DISTINCT FROM NEW.scope)
  EXECUTE FUNCTION roles_touch_holders();
--> statement-breakpoint

-- Authentication also reads the membership's authz_version (the key of its cached custom permissions)
-- and whether the session is an impersonation.
DROP FUNCTION session_actor(uuid, uuid, uuid, uuid);
--> statement-breakpoint
CREATE FUNCTION session_actor(p_session_id uuid, p_user_id uuid, p_tenant_id uuid, p_store_id uuid)
  RETURNS TABLE (
    email text, name text, email_verified_at timestamptz, totp_enabled_at timestamptz, created_at timestamptz,
    locale text, timezone text, phone text,
    platform_role text, mfa_verified boolean, session_created_at timestamptz, impersonator_id uuid,
    membership_status text, membership_role text, membership_title text, membership_authz_version bigint,
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
           u.platform_role, s.mfa_verified, s.created_at, s.impersonator_id,
           m.status, m.role, m.title, m.authz_version,
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
