/**
 * The mail a person gets when a tenant administrator creates their account (POST /api/v1/users), queued
 * with the executor of the creating transaction, so it is sent only if the account exists.
 *
 * Created without a password, the person gets a link to choose one: identity's password-reset link (the
 * same single-use, one-hour token POST /api/v1/auth/reset-password spends; afterwards "forgot password"
 * mails a new one), and using it proves the address. Created with a password (handed over by the
 * administrator), the person gets a link to verify the address instead (identity's verify-email link).
 */
import type { SqlExecutor } from '../../core/db/database.js';
import { renderTemplate, type MailTemplate } from '../../core/mail/mail-template.js';
import type { Platform } from '../../core/platform.js';

const layout = (body: string) =>
  `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1f2933;max-width:560px;margin:0 auto;padding:24px">${body}<p style="color:#7b8794;font-size:13px">If you did not expect this message, contact {{tenantName}}.</p></body></html>`;

const button = (href: string, label: string) =>
  `<p><a href="${href}" style="display:inline-block;background:#2563eb;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none">${label}</a></p><p style="font-size:13px">Or paste this link into your browser:<br>${href}</p>`;

const SUBJECT = '{{actorName}} added you to {{tenantName}}';
const TEXT_INTRO = 'Hello {{name}},\n\n{{actorName}} created an account for you ({{email}}) and added you to {{tenantName}} as {{role}}.';
const HTML_INTRO = '<p>Hello {{name}},</p><p><strong>{{actorName}}</strong> created an account for you (<strong>{{email}}</strong>) and added you to <strong>{{tenantName}}</strong> as {{role}}.</p>';

export const memberMailTemplates = {
  /** Without a password: choose one. */
  memberCreatedChoosePassword: {
    subject: SUBJECT,
    text: `${TEXT_INTRO}\n\nOpen this link within one hour to choose your password (it works once; after that, use "Forgot password" on the sign-in page):\n\n{{link}}\n`,
    html: layout(`${HTML_INTRO}<p>Choose your password within one hour (the link works once; after that, use “Forgot password” on the sign-in page).</p>${button('{{link}}', 'Choose my password')}`),
  },
  /** With a password set by the administrator: confirm the address. */
  memberCreatedVerifyEmail: {
    subject: SUBJECT,
    text: `${TEXT_INTRO} They will give you your password.\n\nPlease confirm that this is your address by opening this link (valid for 48 hours):\n\n{{link}}\n`,
    html: layout(`${HTML_INTRO}<p>They will give you your password. Please confirm that this is your address (the link is valid for 48 hours).</p>${button('{{link}}', 'Verify my email')}`),
  },
} as const satisfies Record<string, MailTemplate>;

export type MemberMail = keyof typeof memberMailTemplates;

export interface MemberMailVariables {
  name: string;
  email: string;
  actorName: string;
  tenantName: string;
  /** The role as read in a sentence ("a member", "an administrator"). */
  role: string;
  link: string;
}

/** Queues one member mail to `to`, sent only if the transaction behind `executor` commits. */
export async function queueMemberMail(platform: Platform, executor: SqlExecutor, mail: MemberMail, to: string, variables: MemberMailVariables): Promise<string> {
  return platform.queueMail({ to, ...renderTemplate(memberMailTemplates[mail], { ...variables }) }, { db: executor });
}
