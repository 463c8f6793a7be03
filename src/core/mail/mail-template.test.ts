import { describe, expect, it } from 'vitest';
import { escapeHtml, renderTemplate } from './mail-template.js';

const template = {
  subject: 'Welcome, {{name}}',
  text: 'Hello {{ name }}, you have {{count}} invitations: {{link}}',
  html: '<p>Hello {{name}}, you have {{count}} invitations: <a href="{{link}}">open</a></p>',
};

describe('renderTemplate', () => {
  it('fills every part, escaping variables only in the html part', () => {
    const rendered = renderTemplate(template, { name: `<script>alert("x")</script> O'Neil & co`, count: 3, link: 'https://app.test/i?a=1&b=2' });

    expect(rendered.subject).toBe(`Welcome, <script>alert("x")</script> O'Neil & co`);
    expect(rendered.text).toBe(`Hello <script>alert("x")</script> O'Neil & co, you have 3 invitations: https://app.test/i?a=1&b=2`);
    expect(rendered.html).toBe(
      '<p>Hello &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Neil &amp; co, you have 3 invitations: <a href="https://app.test/i?a=1&amp;b=2">open</a></p>',
    );
  });

  it('keeps the subject on one line', () => {
    expect(renderTemplate(template, { name: 'Ann\r\nBcc: victim@example.test', count: 0, link: '' }).subject).toBe('Welcome, Ann Bcc: victim@example.test');
  });

  it('refuses a missing variable instead of mailing the placeholder', () => {
    expect(() => renderTemplate(template, { name: 'Ann', count: 1 })).toThrow('mail template variable "link" is missing');
  });

  it('does not treat inherited properties as variables', () => {
    expect(() => renderTemplate({ subject: '{{constructor}}', text: '', html: '' }, {})).toThrow('"constructor" is missing');
  });
});

describe('escapeHtml', () => {
  it('escapes the five significant characters and nothing else', () => {
    expect(escapeHtml(`&<>"'ü/`)).toBe('&amp;&lt;&gt;&quot;&#39;ü/');
  });
});
