import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'bench/results/', 'migrations/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Read configuration through src/config.ts only.' },
      ],
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/modules/**'], message: 'core/ never imports modules/.' }] }],
    },
  },
  { files: ['src/modules/**', 'src/app.ts', 'src/cli.ts', 'src/seed.ts', 'test/**', 'bench/**', 'scripts/**', 'src/**/*.test.ts'], rules: { 'no-restricted-imports': 'off' } },
  { files: ['src/config.ts', 'test/**', 'bench/**', 'scripts/**', 'vitest.config.ts', 'drizzle.config.ts', '**/*.test.ts'], rules: { 'no-restricted-syntax': 'off' } },
);
