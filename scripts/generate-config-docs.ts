/**
 * Writes the configuration table in README.md (between the `config:start` / `config:end` markers) from
 * the variables declared in src/config.ts, so the documentation cannot drift from what the code reads.
 *
 *   npx tsx scripts/generate-config-docs.ts           # rewrite the table in README.md
 *   npx tsx scripts/generate-config-docs.ts --check   # exit 1 when it is out of date (CI)
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configVariables } from '../src/config.js';

export const README_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md');

const START = '<!-- config:start (generated from src/config.ts by `npm run docs:config`; do not edit by hand) -->';
const END = '<!-- config:end -->';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function formatDefault(value: string | undefined): string {
  if (value === undefined) return '_unset_';
  if (value === '') return '_empty_';
  return `\`${cell(value)}\``;
}

/** The markdown table of every configuration variable, with its default and description. */
export function renderConfigTable(): string {
  const rows = configVariables.map((variable) => `| \`${variable.name}\` | ${formatDefault(variable.default)} | ${cell(variable.description)} |`);
  return ['| Variable | Default | Description |', '| --- | --- | --- |', ...rows].join('\n');
}

/** README text with the generated block replaced (the markers must already be present). */
export function renderReadme(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no "${START}" … "${END}" block`);
  return `${readme.slice(0, start + START.length)}\n${renderConfigTable()}\n${readme.slice(end)}`;
}

function main(argv: string[]): number {
  const actual = fs.readFileSync(README_PATH, 'utf8');
  const expected = renderReadme(actual);
  if (argv.includes('--check')) {
    if (actual === expected) return 0;
    console.error('The configuration table in README.md is out of date; run `npm run docs:config`.');
    return 1;
  }
  fs.writeFileSync(README_PATH, expected);
  console.log(`Wrote the configuration table in ${path.relative(process.cwd(), README_PATH)} (${configVariables.length} variables).`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
