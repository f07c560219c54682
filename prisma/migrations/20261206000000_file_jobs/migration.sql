-- The table holds ingest, update and delete jobs: it is named for what it holds (was ingest_jobs).
ALTER TABLE "ingest_jobs" RENAME TO "file_jobs";
ALTER TABLE "file_jobs" RENAME CONSTRAINT "ingest_jobs_pkey" TO "file_jobs_pkey";
ALTER INDEX "ingest_jobs_state_updated_at_idx" RENAME TO "file_jobs_state_updated_at_idx";
ALTER INDEX "ingest_jobs_file_id_idx" RENAME TO "file_jobs_file_id_idx";
ALTER INDEX "ingest_jobs_principal_idempotency_key_batch_index_key" RENAME TO "file_jobs_principal_idempotency_key_batch_index_key";
ALTER INDEX "ingest_jobs_file_id_claim_key" RENAME TO "file_jobs_file_id_claim_key";
ALTER INDEX "ingest_jobs_staged_path_idx" RENAME TO "file_jobs_staged_path_idx";
