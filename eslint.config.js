// ESLint for the whole repository: ESLint's and typescript-eslint's recommended rules (without type
// information, so a run takes seconds on two cores), with Prettier owning the layout.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig([
  globalIgnores(['dist/', 'playground/dist/', 'docs/api/', 'results/', '.tmp/', 'node_modules/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      // Unused parameters named with a leading underscore are deliberate (interface signatures).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  { files: ['playground/src/**/*.ts'], languageOptions: { globals: { ...globals.browser } } },
  prettier,
]);
