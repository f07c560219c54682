-- Blob garbage collection marks a blob before removing its bytes, so a concurrent ingest cannot revive it half-way.
ALTER TABLE "blobs" ADD COLUMN "gc_started_at" TIMESTAMPTZ(3);
