// ESLint flat config: typed linting (typescript-eslint, recommended-type-checked) of src, test,
// examples, bench and scripts. Generated code and build output are not linted.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const FOCUSED = 'Focused tests (.only) must not be committed: they silently skip the rest of the suite.';
const focusedTests = ['describe', 'it', 'test', 'suite'].map((object) => ({ object, property: 'only', message: FOCUSED }));

export default defineConfig(
  globalIgnores(['src/generated/**', 'dist/**', 'node_modules/**', 'coverage/**', 'bench/.build/**', 'bench/profiles/**']),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // Promises: the rules the style guide names.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],

      // `async` methods without `await` are deliberate: they turn synchronous throws (bad input)
      // into rejections, so every call reports errors the same way.
      'require-await': 'off',
      '@typescript-eslint/require-await': 'off',

      // Unused names: `_`-prefixed parameters and rest siblings are intentional.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],

      // Never commit focused tests.
      'no-restricted-properties': ['error', ...focusedTests],
    },
  },

  {
    // Inside the library, import the module that defines a name, never the public barrel: the
    // barrel is the user's entry point, and importing it from within invites import cycles.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'etcdkit', message: 'Inside src/, import from the defining module, not the package barrel.' },
            { name: 'etcdkit/testing', message: 'Inside src/, import from the defining module, not the package barrel.' },
          ],
          patterns: [
            {
              regex: String.raw`^\.\.?/(.*/)?index(\.[cm]?[jt]s)?$`,
              message: 'Inside src/, import from the defining module, not the barrel (index.ts).',
            },
          ],
        },
      ],
    },
  },

  {
    // Plain JavaScript (this file, scripts/*.mjs) is outside the TypeScript project: lint it
    // without type information.
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
  },
);
