// API entry point: config, resources, HTTP server on HOST:PORT, graceful stop on SIGTERM/SIGINT.
import { loadConfigOrExit } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createApp } from './app.js';
import { openApiContext } from './context.js';
import { createApiServer } from './server.js';

const config = loadConfigOrExit();
const logger = createLogger(config, 'api');

try {
  const ctx = await openApiContext(config, logger);
  const server = createApiServer(createApp(ctx), config);
  server.listen(config.port, config.host, () => {
    logger.info({ host: config.host, port: config.port, verifier: ctx.verifier.source }, 'api listening');
  });
  server.on('error', (err) => {
    logger.fatal({ err }, 'api server failed');
    process.exit(1);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'api stopping: no new connections, in-flight requests may finish');
    // In-flight requests (an upload still streaming) get SHUTDOWN_TIMEOUT_MS; then their sockets are cut,
    // which multer turns into removed staged files (no job was recorded for them).
    const cut = setTimeout(() => {
      logger.warn('shutdown timeout: closing the remaining connections');
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    cut.unref();
    server.close(() => {
      clearTimeout(cut);
      // Cut-off uploads remove their staged bytes asynchronously: let them (briefly) before closing.
      void ctx.uploads
        .drained(2_000)
        .then(() => ctx.close())
        .then(() => {
          logger.info('api stopped');
          process.exit(0);
        })
        .catch((err: unknown) => {
          logger.error({ err }, 'api stop failed');
          process.exit(1);
        });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  logger.fatal({ err }, 'api failed to start');
  process.exit(1);
}
