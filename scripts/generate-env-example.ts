/**
 * Writes `.env.example` from the variables declared in src/config.ts, so the example can never drift from
 * what the code reads (src/config.test.ts fails when the committed file differs from this output).
 *
 *   npx tsx scripts/generate-env-example.ts           # rewrite .env.example
 *   npx tsx scripts/generate-env-example.ts --check   # exit 1 when it is out of date (CI)
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configVariables } from '../src/config.js';

export const ENV_EXAMPLE_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '.env.example');

const WIDTH = 100;

/** Word-wraps a description into `# ` comment lines. */
function commentLines(text: string): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.length + 1 + word.length > WIDTH && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}

/** Quotes a value the way dotenv parsers (and `node --env-file`) read it back unchanged. */
function formatValue(value: string): string {
  return /^[\w./:@,-]*$/.test(value) ? value : `"${value.replace(/"/g, '\\"')}"`;
}

/** The full text of `.env.example`. */
export function renderEnvExample(): string {
  const header = [
    '# Atrium configuration. Every variable is optional; the values below are the defaults.',
    '# Generated from src/config.ts by `npm run env:example`; do not edit by hand.',
    '# Copy to .env and load it with your process manager, or run `node --env-file=.env bin/atrium.js serve`.',
  ];
  const blocks = configVariables.map((variable) => {
    const lines = commentLines(variable.description);
    if (variable.default === undefined) lines.push('# (unset by default)', `# ${variable.name}=`);
    else lines.push(`${variable.name}=${formatValue(variable.default)}`);
    return lines.join('\n');
  });
  return `${[header.join('\n'), ...blocks].join('\n\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const expected = renderEnvExample();
  if (argv.includes('--check')) {
    const actual = fs.existsSync(ENV_EXAMPLE_PATH) ? fs.readFileSync(ENV_EXAMPLE_PATH, 'utf8') : '';
    if (actual === expected) return 0;
    console.error('.env.example is out of date; run `npm run env:example`.');
    return 1;
  }
  fs.writeFileSync(ENV_EXAMPLE_PATH, expected);
  console.log(`Wrote ${path.relative(process.cwd(), ENV_EXAMPLE_PATH)} (${configVariables.length} variables).`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
