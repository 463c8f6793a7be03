/**
 * Mail templates: a subject, a text part and an HTML part with `{{name}}` placeholders. Every mail has
 * both parts (clients without HTML, spam scoring), so a template cannot omit either.
 */
import type { MailMessage } from './mailer.js';

export interface MailTemplate {
  subject: string;
  text: string;
  html: string;
}

export type TemplateVariables = Record<string, string | number>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

function fill(source: string, variables: TemplateVariables, encode: (value: string) => string): string {
  return source.replace(PLACEHOLDER, (_match, name: string) => {
    // A typo in a template must fail loudly rather than mail "Hello {{nmae}}" to customers.
    if (!Object.hasOwn(variables, name)) throw new Error(`mail template variable "${name}" is missing`);
    return encode(String(variables[name]));
  });
}

/**
 * Fills a template. Variables are HTML-escaped in the html part (a user's name must not become markup)
 * and line breaks are flattened in the subject (a header is one line).
 */
export function renderTemplate(template: MailTemplate, variables: TemplateVariables): Omit<MailMessage, 'to'> & { html: string } {
  return {
    subject: fill(template.subject, variables, (value) => value.replace(/[\r\n]+/g, ' ')),
    text: fill(template.text, variables, (value) => value),
    html: fill(template.html, variables, escapeHtml),
  };
}
