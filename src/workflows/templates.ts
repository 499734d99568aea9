// The `${{ }}` language lives in src/templates.ts, beneath both the workflows and the connectors (fail_when).
export * from '../templates.ts';
