import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.state/**', 'artifacts/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Type-aware: a promise nobody awaits (or marks `void` on purpose) is a bug waiting for a failure
    // that nobody sees — in a workflow, a command that may never be issued.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: only the workflow SDK, zod (input
    // validation) and workflows/ itself. Activities, Kubernetes, Node built-ins and the client are
    // reachable only as types.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!(@temporalio/(workflow|common)|zod|\\./[^/]+)$)',
              allowTypeImports: true,
              message:
                'workflows/ may import only @temporalio/workflow, @temporalio/common, zod and workflows/ modules (other modules only with `import type`): workflow code must stay deterministic.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
