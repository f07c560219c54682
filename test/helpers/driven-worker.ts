// A world of its own (own database) and a worker context with no BullMQ worker running: for tests that drive the
// ingest steps, GC and the sweeps themselves, and pause them where they need.
import { createLogger } from '../../src/shared/logger.js';
import { openWorkerContext, type WorkerContext } from '../../src/workers/context.js';
import { createWorld, type World } from './world.js';

export async function openDrivenWorker(): Promise<{ world: World; ctx: WorkerContext }> {
  const world = await createWorld({ worker: false, isolatedDatabase: true });
  return { world, ctx: await openWorkerContext(world.config, createLogger({ logLevel: 'silent' }, 'test')) };
}

export async function closeDrivenWorker(world: World | undefined, ctx: WorkerContext | undefined): Promise<void> {
  await ctx?.close();
  await world?.close();
}
