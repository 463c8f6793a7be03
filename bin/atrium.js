#!/usr/bin/env node
// Thin launcher so `npx atrium` and `npm start` run the compiled CLI (built by `npm install` via `prepare`).
import('../dist/bin.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/bin.js')) {
    console.error('atrium: the build is missing. Run `npm install` (or `npm run build`) first.');
    process.exit(1);
  }
  throw error;
});
