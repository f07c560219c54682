#!/usr/bin/env node
// Entry of `npx artstore`: runs the compiled CLI when dist/ has it, else the TypeScript source through tsx.
// `artstore token` signs with this checkout's development keypair, so it runs the service-side script
// (scripts/dev-token.ts) instead: the CLI itself knows nothing of the service's configuration.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const isToken = process.argv[2] === 'token';
const compiled = isToken ? path.join(root, 'dist', 'scripts', 'dev-token.js') : path.join(root, 'dist', 'src', 'cli', 'main.js');
const source = isToken ? path.join(root, 'scripts', 'dev-token.ts') : path.join(root, 'src', 'cli', 'main.ts');

let entry = compiled;
if (!existsSync(compiled)) {
  // tsx is resolved from this package, so the command works from any working directory.
  const { register } = await import(import.meta.resolve('tsx/esm/api'));
  register();
  entry = source;
}
const loaded = await import(pathToFileURL(entry).href);
if (isToken) process.exit(await loaded.runTokenCommand(process.argv.slice(3), 'artstore token'));
