/**
 * Builds the app on a throw-away in-memory database and validates its OpenAPI document with a real
 * OpenAPI 3.1 validator, plus the house rules the validator cannot know (DESIGN §6): every operation has
 * a tag, a summary and a response schema, and every `$ref` resolves. Exits 1 listing every problem.
 *
 *   npm run openapi:validate                       # validate
 *   npm run openapi:validate -- --out openapi.json # and write the document (e.g. for client generation)
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { migratePglite } from '../src/core/db/migrate.js';

type Json = Record<string, unknown>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Every operation of the document as [method, path, operation]. */
export function listOperations(document: Json): Array<[string, string, Json]> {
  const paths = (document.paths ?? {}) as Record<string, Json>;
  return Object.entries(paths).flatMap(([route, item]) =>
    HTTP_METHODS.filter((method) => item[method]).map((method) => [method, route, item[method] as Json] as [string, string, Json]),
  );
}

/** Every `$ref` value anywhere in the document, with the JSON path where it was found. */
function collectRefs(node: unknown, at: string, found: Array<[string, string]>): Array<[string, string]> {
  if (Array.isArray(node)) node.forEach((item, index) => collectRefs(item, `${at}/${index}`, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push([at, value]);
      else collectRefs(value, `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, found);
    }
  }
  return found;
}

/** Resolves a local JSON Pointer (`#/components/schemas/Problem`) in the document. */
function resolvePointer(document: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((part) => decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Json)[key] : undefined), document);
}

/** The house rules: tag, summary, a documented success response with a schema; resolvable refs. */
export function checkHouseRules(document: Json): string[] {
  const problems: string[] = [];
  const declaredTags = new Set(((document.tags ?? []) as Array<{ name: string }>).map((tag) => tag.name));
  for (const [method, route, operation] of listOperations(document)) {
    const name = `${method.toUpperCase()} ${route}`;
    const tags = (operation.tags ?? []) as string[];
    if (tags.length === 0) problems.push(`${name}: no tag`);
    for (const tag of tags) if (!declaredTags.has(tag)) problems.push(`${name}: tag "${tag}" is not declared in the document's tags`);
    if (typeof operation.summary !== 'string' || operation.summary.trim() === '') problems.push(`${name}: no summary`);
    const responses = Object.entries((operation.responses ?? {}) as Record<string, Json>);
    if (!responses.some(([status]) => /^2\d\d$/.test(status))) problems.push(`${name}: no success (2xx) response documented`);
    for (const [status, response] of responses) {
      // 204 and other empty answers carry no content; anything else must say what it returns.
      if (status === '204' || status === '304') continue;
      const content = (response.content ?? {}) as Record<string, Json>;
      if (!Object.values(content).some((media) => media.schema)) problems.push(`${name}: response ${status} has no schema`);
    }
  }
  for (const [at, ref] of collectRefs(document, '#', [])) {
    if (resolvePointer(document, ref) === undefined) problems.push(`${at}: $ref "${ref}" does not resolve`);
  }
  return problems;
}

/** Validates the document against the OpenAPI schema of its version, then the house rules. */
export async function validateOpenApiDocument(document: Json): Promise<string[]> {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(document));
  const problems: string[] = [];
  if (!result.valid) {
    const errors = typeof result.errors === 'string' ? [result.errors] : (result.errors ?? []);
    for (const error of errors) {
      problems.push(typeof error === 'string' ? error : `${error.instancePath || '/'} ${error.message ?? 'is invalid'} ${JSON.stringify(error.params)}`);
    }
  } else if (validator.version !== '3.1') {
    problems.push(`expected an OpenAPI 3.1 document, got ${validator.version}`);
  }
  return [...problems, ...checkHouseRules(document)];
}

/** The app's document, built on a throw-away in-memory PGlite (no service or data directory needed). */
export async function buildOpenApiDocument(): Promise<Json> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', RUN_WORKER: 'false' });
  const pglite = await PGlite.create();
  await migratePglite(pglite, config.database);
  const app = await buildApp(config, { pglite, migrate: false });
  try {
    await app.ready();
    return app.swagger() as unknown as Json;
  } finally {
    await app.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' } } });
  const document = await buildOpenApiDocument();
  if (values.out) fs.writeFileSync(values.out, `${JSON.stringify(document, null, 2)}\n`);
  const problems = await validateOpenApiDocument(document);
  const operations = listOperations(document).length;
  if (problems.length > 0) {
    console.error(`OpenAPI document is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    return 1;
  }
  console.log(`OpenAPI ${String(document.openapi)} document is valid: ${operations} operations${values.out ? `, written to ${values.out}` : ''}.`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    return 1;
  });
}
