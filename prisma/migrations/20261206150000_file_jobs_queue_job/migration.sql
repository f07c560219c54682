-- Issue 12: the BullMQ job that carries a small file's ingest job ('ingest-batch', one per group of uploads). NULL:
-- the row has a BullMQ job of its own under its id (large files, update and delete jobs, rows of older versions).
-- The worker reads a batch job's rows by it, and the requeue sweep asks BullMQ about it.
ALTER TABLE "file_jobs" ADD COLUMN "queue_job_id" UUID;
CREATE INDEX "file_jobs_queue_job_id_idx" ON "file_jobs"("queue_job_id");
