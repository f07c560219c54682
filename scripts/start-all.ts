// npm start: runs the compiled api and worker side by side for local use; a signal stops both, one dying stops all.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entries = { api: path.join(distRoot, 'src/api/main.js'), worker: path.join(distRoot, 'src/workers/main.js') };
const children = new Map<string, ChildProcess>();
let exitCode = 0;

function stopAll(signal: NodeJS.Signals): void {
  for (const child of children.values()) if (child.exitCode === null) child.kill(signal);
}

for (const [name, entry] of Object.entries(entries)) {
  const child = spawn(process.execPath, [entry], { stdio: 'inherit' });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (code !== 0 && signal === null) {
      process.stderr.write(`start: ${name} exited with code ${code}; stopping the others\n`);
      exitCode = code ?? 1;
    }
    stopAll('SIGTERM');
    if (children.size === 0) process.exit(exitCode);
  });
}
process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
