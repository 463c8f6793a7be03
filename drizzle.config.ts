import { defineConfig } from 'drizzle-kit';

// Generates SQL migrations from the table definitions; custom SQL (RLS, grants) lives beside them.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/core/**/*.table.ts', './src/modules/**/*.table.ts'],
  out: './migrations',
  casing: 'snake_case',
});
