// Lint rules: typescript-eslint's recommended set, plus the purity rules of DESIGN.md section 3.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['.dependency-cruiser.cjs', 'node_modules/**', 'data/**', 'dist/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', performance: 'readonly', queueMicrotask: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // The dashboard page's own script runs in the browser, as a classic script.
    files: ['src/api/dashboard/static/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { window: 'readonly', document: 'readonly', Node: 'readonly' } },
  },
  {
    // The core is pure: no clock, no randomness, no timers, no Node globals.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error',
        { name: 'Date', message: 'core/ is pure: time comes in as an argument.' },
        { name: 'setTimeout', message: 'core/ is pure: no timers.' },
        { name: 'setInterval', message: 'core/ is pure: no timers.' },
        { name: 'setImmediate', message: 'core/ is pure: no timers.' },
        { name: 'process', message: 'core/ is pure: no process state.' },
        { name: 'Buffer', message: 'core/ is pure: use Uint8Array.' },
        { name: 'performance', message: 'core/ is pure: time comes in as an argument.' },
      ],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'core/ is pure: randomness comes in through a port.' }],
    },
  },
);
