// Worker entry point: config, resources, BullMQ workers, a /metrics port, graceful stop on SIGTERM/SIGINT.
import http from 'node:http';
import { loadConfigOrExit } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { openWorkerContext } from './context.js';
import { startWorkers } from './runner.js';

const config = loadConfigOrExit();
const logger = createLogger(config, 'worker');

try {
  const ctx = await openWorkerContext(config, logger);
  const running = await startWorkers(ctx);
  logger.info({ concurrency: config.workerConcurrency, hashThreads: config.hashThreads }, 'worker started');

  let metricsServer: http.Server | undefined;
  if (config.workerMetricsPort > 0) {
    metricsServer = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      ctx.registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': ctx.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    });
    // A second worker on the same host finds the port taken: it keeps working without a metrics port.
    metricsServer.on('error', (err) => logger.warn({ err: err.message }, 'worker metrics port unavailable'));
    metricsServer.listen(config.workerMetricsPort, config.workerMetricsHost);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'worker stopping: no new jobs, active ones may finish');
    metricsServer?.close();
    void running
      .close(config.shutdownTimeoutMs)
      .then(() => ctx.close())
      .then(() => {
        logger.info('worker stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'worker stop failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  logger.fatal({ err }, 'worker failed to start');
  process.exit(1);
}
