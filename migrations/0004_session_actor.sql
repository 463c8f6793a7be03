-- What every authenticated request needs to know about its credential, in one statement (one round trip
-- outside any transaction): is the session live, who is the person, and what is their standing in the
-- token's tenant. SECURITY INVOKER: it runs as the app role, under RLS; the tenant context it sets is
-- transaction-local, so it ends with the statement. No row: the session is revoked, expired, not the
-- token's, or the person is disabled.
CREATE FUNCTION session_actor(p_session_id uuid, p_user_id uuid, p_tenant_id uuid)
  RETURNS TABLE (
    email text, name text, email_verified_at timestamptz, totp_enabled_at timestamptz, created_at timestamptz,
    platform_role text, mfa_verified boolean,
    membership_status text, membership_role text,
    tenant_name text, tenant_slug text, tenant_status text
  )
  LANGUAGE plpgsql VOLATILE
  SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM set_config('app.user_id', p_user_id::text, true), set_config('app.tenant_id', coalesce(p_tenant_id::text, ''), true);
  RETURN QUERY
    SELECT u.email, u.name, u.email_verified_at, u.totp_enabled_at, u.created_at,
           u.platform_role, s.mfa_verified,
           m.status, m.role,
           t.name, t.slug, t.status
      FROM sessions s
      JOIN users u ON u.id = s.user_id AND u.status = 'active'
      LEFT JOIN memberships m ON m.tenant_id = p_tenant_id AND m.user_id = s.user_id
      LEFT JOIN tenants t ON t.id = p_tenant_id
     WHERE s.id = p_session_id AND s.user_id = p_user_id
       AND s.revoked_at IS NULL AND s.idle_expires_at > now() AND s.expires_at > now();
END
$$;
