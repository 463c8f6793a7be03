/**
 * One error type for the whole code base and its RFC 9457 problem+json rendering (DESIGN §6).
 * Services throw `AppError(code, detail)`; the status comes from the code, so a code always means the
 * same status everywhere.
 */

/** Every stable error code with its HTTP status and title. Later modules add theirs here. */
export const errorCatalog = {
  'request.validation_failed': { status: 400, title: 'Validation failed' },
  'request.malformed_json': { status: 400, title: 'Malformed JSON body' },
  'request.invalid_header': { status: 400, title: 'Invalid header' },
  'request.invalid_url': { status: 400, title: 'Invalid URL' },
  'auth.weak_password': { status: 400, title: 'Password not acceptable' },
  'auth.invalid_token': { status: 400, title: 'Invalid or expired token' },
  'auth.email_unchanged': { status: 400, title: 'New email address is the current one' },
  'auth.unauthenticated': { status: 401, title: 'Authentication required' },
  'auth.invalid_credentials': { status: 401, title: 'Invalid credentials' },
  'auth.invalid_mfa_code': { status: 401, title: 'Invalid MFA code' },
  'auth.invalid_mfa_token': { status: 401, title: 'Invalid or expired MFA token' },
  'auth.invalid_refresh_token': { status: 401, title: 'Invalid or expired refresh token' },
  'auth.refresh_token_reused': { status: 401, title: 'Refresh token reused; the session is revoked' },
  'auth.invalid_bootstrap_token': { status: 401, title: 'Invalid bootstrap token' },
  'auth.forbidden': { status: 403, title: 'Forbidden' },
  'auth.email_not_verified': { status: 403, title: 'Email address not verified' },
  'auth.tenant_access_revoked': { status: 403, title: 'No active access to this tenant' },
  'auth.mfa_enrollment_required': { status: 403, title: 'Two-factor authentication required by the tenant' },
  'store.access_denied': { status: 403, title: 'Store access denied' },
  'auth.impersonation_restricted': { status: 403, title: 'Not allowed while impersonating' },
  'role.invalid_permissions': { status: 400, title: 'Unknown permission or wrong scope' },
  'role.scope_mismatch': { status: 400, title: 'Role scope does not match the assignment' },
  'role.privilege_escalation': { status: 403, title: 'Cannot grant permissions you do not hold' },
  'role.self_assignment': { status: 403, title: 'Cannot change your own roles' },
  'role.builtin_readonly': { status: 403, title: 'Built-in roles cannot be changed' },
  'role.not_found': { status: 404, title: 'Role not found' },
  'role.assignment_not_found': { status: 404, title: 'Role assignment not found' },
  'role.name_taken': { status: 409, title: 'Role name already in use' },
  'role.in_use': { status: 409, title: 'Role still assigned' },
  'role.limit_reached': { status: 409, title: 'Too many custom roles' },
  'role.owner_transfer_only': { status: 409, title: 'Ownership moves only by transfer' },
  'role.base_role_required': { status: 409, title: 'A member keeps one built-in tenant role' },
  'plan.not_found': { status: 404, title: 'Plan not found' },
  'plan.code_taken': { status: 409, title: 'Plan code already in use' },
  'plan.not_available': { status: 409, title: 'Plan not available' },
  'plan.cycle_not_offered': { status: 400, title: 'Billing cycle not offered by the plan' },
  'plan.downgrade_exceeds_limits': { status: 409, title: 'Current usage exceeds the new plan' },
  'plan.limit_reached': { status: 402, title: 'Plan limit reached' },
  'plan.feature_unavailable': { status: 402, title: 'Feature not in the plan' },
  'subscription.inactive': { status: 402, title: 'Subscription inactive' },
  'subscription.payment_method_required': { status: 402, title: 'Payment method required' },
  'subscription.invalid_transition': { status: 409, title: 'Subscription status change not allowed' },
  'subscription.plan_unchanged': { status: 409, title: 'Already on this plan and cycle' },
  'platform.user_not_found': { status: 404, title: 'Person not found' },
  'platform.last_admin': { status: 409, title: 'The last platform administrator cannot be removed' },
  'platform.self_protected': { status: 409, title: 'Not on your own platform account' },
  'tenant.not_suspended': { status: 409, title: 'Tenant is not suspended' },
  'tenant.not_active': { status: 409, title: 'Tenant is not active' },
  'impersonation.forbidden_by_tenant': { status: 403, title: 'The tenant does not allow impersonation' },
  'impersonation.target_not_allowed': { status: 403, title: 'This person cannot be impersonated' },
  'impersonation.not_found': { status: 404, title: 'Impersonation not found' },
  'store.not_found': { status: 404, title: 'Store not found' },
  'store.member_not_found': { status: 404, title: 'Person not assigned to this store' },
  'store.code_taken': { status: 409, title: 'Store code already in use' },
  'store.last_headquarters': { status: 409, title: 'The headquarters cannot be deleted' },
  'store.headquarters_required': { status: 409, title: 'A headquarters is required' },
  'tenant.confirmation_mismatch': { status: 400, title: 'Confirmation does not match the tenant' },
  'tenant.not_found': { status: 404, title: 'Tenant not found' },
  'tenant.slug_taken': { status: 409, title: 'Tenant slug already in use' },
  'tenant.owner_cannot_leave': { status: 409, title: 'The owner cannot leave the tenant' },
  'tenant.not_closed': { status: 409, title: 'Tenant is not closed' },
  'tenant.restore_window_expired': { status: 409, title: 'Tenant can no longer be restored' },
  'member.not_found': { status: 404, title: 'Member not found' },
  'member.email_has_account': { status: 409, title: 'Email address already has an account' },
  'member.owner_protected': { status: 409, title: 'The owner cannot be changed this way' },
  'member.self_protected': { status: 409, title: 'Not on your own membership' },
  'member.sole_owner': { status: 409, title: 'Sole owner of a tenant with other members' },
  'member.inactive': { status: 409, title: 'Member is deactivated' },
  'invitation.domain_not_allowed': { status: 400, title: 'Email domain not allowed by the tenant' },
  'invitation.sign_in_required': { status: 401, title: 'Sign in to accept this invitation' },
  'invitation.email_mismatch': { status: 403, title: 'Invitation is for another email address' },
  'invitation.not_found': { status: 404, title: 'Invitation not found' },
  'invitation.already_member': { status: 409, title: 'Already a member of this tenant' },
  'invitation.not_pending': { status: 409, title: 'Invitation no longer pending' },
  'auth.email_taken': { status: 409, title: 'Email already registered' },
  'auth.already_bootstrapped': { status: 409, title: 'Already bootstrapped' },
  'auth.mfa_already_enabled': { status: 409, title: 'MFA already enabled' },
  'auth.mfa_not_enabled': { status: 409, title: 'MFA not enabled' },
  'auth.mfa_setup_required': { status: 409, title: 'MFA setup not started' },
  'auth.too_many_attempts': { status: 429, title: 'Too many failed attempts' },
  'resource.not_found': { status: 404, title: 'Not found' },
  'route.not_found': { status: 404, title: 'Route not found' },
  'request.method_not_allowed': { status: 405, title: 'Method not allowed' },
  'request.not_acceptable': { status: 406, title: 'Not acceptable' },
  'resource.conflict': { status: 409, title: 'Conflict' },
  'idempotency.in_progress': { status: 409, title: 'Request with this Idempotency-Key is still in progress' },
  'request.body_too_large': { status: 413, title: 'Request body too large' },
  'request.uri_too_long': { status: 414, title: 'URI too long' },
  'request.unsupported_media_type': { status: 415, title: 'Unsupported media type' },
  'idempotency.key_reused': { status: 422, title: 'Idempotency-Key reused with a different request' },
  'rate_limit.exceeded': { status: 429, title: 'Too many requests' },
  'internal.error': { status: 500, title: 'Internal server error' },
  'service.unavailable': { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** One failing field of a validation error. `field` is a JSON Pointer into the request part. */
export interface FieldError {
  in: 'body' | 'querystring' | 'params' | 'headers';
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extras: { errors?: FieldError[]; headers?: Record<string, string>; [key: string]: unknown } = {},
  ) {
    super(detail);
    this.name = 'AppError';
    const entry = errorCatalog[code];
    this.status = entry.status;
    this.title = entry.title;
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  errors?: FieldError[];
  [key: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** Documentation URI for a code: stable, resolvable against the docs site. */
export function problemType(code: string): string {
  return `https://atrium.dev/problems/${code.replace(/\./g, '/')}`;
}

/** Renders an AppError as a problem document for the given request. */
export function toProblem(error: AppError, requestId: string): Problem {
  const { headers: _headers, ...extras } = error.extras;
  return {
    ...extras,
    type: problemType(error.code),
    title: error.title,
    status: error.status,
    detail: error.detail,
    code: error.code,
    requestId,
  };
}
