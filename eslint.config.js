import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'examples/*/build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  { files: ['test/setup.ts'], rules: { 'no-console': 'off' } },
  {
    // Scripts that run in browsers: the banner custom element, the console's script.
    files: ['src/banner/**/*.js', 'src/web/client/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly', window: 'readonly', customElements: 'readonly', HTMLElement: 'readonly', CSSStyleSheet: 'readonly', ResizeObserver: 'readonly',
        CustomEvent: 'readonly', URL: 'readonly', URLSearchParams: 'readonly', FormData: 'readonly', fetch: 'readonly',
      },
    },
  },
  {
    files: ['bench/**/*.mjs', 'scripts/**/*.mjs'],
    languageOptions: { globals: { URLSearchParams: 'readonly', performance: 'readonly', process: 'readonly', Buffer: 'readonly' } },
    rules: { 'no-console': 'off' },
  },
);
