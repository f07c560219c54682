#!/usr/bin/env node
// Entry of `npx artstore`: runs the compiled CLI when dist/ has it, else the TypeScript source through tsx.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compiled = path.join(root, 'dist', 'src', 'cli', 'main.js');

if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  // tsx is resolved from this package, so the command works from any working directory.
  const { register } = await import(import.meta.resolve('tsx/esm/api'));
  register();
  await import(pathToFileURL(path.join(root, 'src', 'cli', 'main.ts')).href);
}
