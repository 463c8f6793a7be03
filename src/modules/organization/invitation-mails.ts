/**
 * The invitation email, queued with the executor of the transaction that creates (or renews) the
 * invitation, so it is sent only if that commits. The token travels in the link's query string and is
 * never logged (the mailer logs recipient and subject only).
 *
 * Two templates, with and without the inviter's personal message, rather than one with a conditional
 * block: `renderTemplate` HTML-escapes every variable, so markup cannot be passed in a variable — and the
 * inviter's message (free text typed by a tenant admin, read by someone outside the tenant) must stay
 * text, whatever it contains.
 */
import type { SqlExecutor } from '../../core/db/database.js';
import { renderTemplate, type MailTemplate } from '../../core/mail/mail-template.js';
import type { Platform } from '../../core/platform.js';

const layout = (body: string) =>
  `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1f2933;max-width:560px;margin:0 auto;padding:24px">${body}<p style="color:#7b8794;font-size:13px">If you did not expect this invitation, you can ignore it: nothing happens unless you accept it.</p></body></html>`;

const button = (href: string, label: string) =>
  `<p><a href="${href}" style="display:inline-block;background:#2563eb;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none">${label}</a></p><p style="font-size:13px">Or paste this link into your browser:<br>${href}</p>`;

const SUBJECT = '{{inviterName}} invited you to join {{tenantName}}';
const TEXT_INTRO = 'Hello,\n\n{{inviterName}} invited you to join {{tenantName}} as {{role}}.';
const TEXT_LINK = '\n\nOpen this link to accept (it is valid until {{expiresAt}} and works once):\n\n{{link}}\n';
const HTML_INTRO = '<p>Hello,</p><p><strong>{{inviterName}}</strong> invited you to join <strong>{{tenantName}}</strong> as {{role}}.</p>';
const HTML_LINK = `<p>The invitation is valid until {{expiresAt}} and works once.</p>${button('{{link}}', 'Accept the invitation')}`;

export const invitationMailTemplates = {
  invitation: {
    subject: SUBJECT,
    text: `${TEXT_INTRO}${TEXT_LINK}`,
    html: layout(`${HTML_INTRO}${HTML_LINK}`),
  },
  invitationWithMessage: {
    subject: SUBJECT,
    text: `${TEXT_INTRO} Their message:\n\n{{message}}${TEXT_LINK}`,
    html: layout(`${HTML_INTRO}<p>Their message:</p><blockquote style="white-space:pre-wrap;border-left:3px solid #cbd2d9;margin:0 0 16px;padding:4px 12px">{{message}}</blockquote>${HTML_LINK}`),
  },
} as const satisfies Record<string, MailTemplate>;

export interface InvitationMailVariables {
  inviterName: string;
  tenantName: string;
  /** The role as read in a sentence ("a member", "an administrator"). */
  role: string;
  link: string;
  /** See `mailTimestamp`. */
  expiresAt: string;
  /** The inviter's message, as typed; null or empty: the mail without one. */
  message: string | null;
}

const ROLE_IN_A_SENTENCE: Record<string, string> = { admin: 'an administrator', member: 'a member' };

/** The role as the mail reads it. */
export function roleInASentence(role: string): string {
  return ROLE_IN_A_SENTENCE[role] ?? role;
}

/** Where an invitation token is used: `<PUBLIC_URL>/auth/accept-invite?token=<token>`. */
export function invitationLink(publicUrl: string, token: string): string {
  return `${publicUrl}/auth/accept-invite?token=${encodeURIComponent(token)}`;
}

/** Renders the invitation mail (exported for tests of the escaping). */
export function renderInvitationMail(variables: InvitationMailVariables) {
  const { message, ...rest } = variables;
  return message ? renderTemplate(invitationMailTemplates.invitationWithMessage, { ...rest, message }) : renderTemplate(invitationMailTemplates.invitation, rest);
}

/** Queues the invitation mail to `to`, sent only if the transaction behind `executor` commits. */
export async function queueInvitationMail(platform: Platform, executor: SqlExecutor, to: string, variables: InvitationMailVariables): Promise<string> {
  return platform.queueMail({ to, ...renderInvitationMail(variables) }, { db: executor });
}
