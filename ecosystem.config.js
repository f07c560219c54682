// pm2 process file: N API processes (cluster mode, one port) and M worker processes.
// ESM package: pm2 reads a named `apps` export (module.exports and default exports fail here).
const apiInstances = Number(process.env.API_INSTANCES ?? 2);
const workerInstances = Number(process.env.WORKER_INSTANCES ?? 1);

export const apps = [
  {
    name: 'artstore-api',
    script: 'dist/src/api/main.js',
    exec_mode: 'cluster',
    instances: apiInstances,
    // Above the service's own 25 s shutdown bound, so pm2 never cuts a drain short.
    kill_timeout: 30_000,
    listen_timeout: 15_000,
    max_memory_restart: '512M',
    env: { NODE_ENV: process.env.NODE_ENV ?? 'development' },
  },
  {
    name: 'artstore-worker',
    script: 'dist/src/workers/main.js',
    exec_mode: 'fork',
    instances: workerInstances,
    kill_timeout: 30_000,
    max_memory_restart: '1G',
    env: { NODE_ENV: process.env.NODE_ENV ?? 'development' },
  },
];
