-- Data safety (issue 10).

-- A client-chosen fileId is claimed by the first ingest job that takes it and stays claimed until that job has
-- failed (a failed job's cleanup runs before its state changes, in the same transaction): two concurrent uploads
-- with the same fileId can no longer both write the file's attr.json. The API maps a violation to 409 conflict.
CREATE UNIQUE INDEX "ingest_jobs_file_id_claim_key" ON "ingest_jobs" ("file_id") WHERE "kind" = 'ingest' AND "state" <> 'failed';

-- Staged files of finished jobs are found by path (recovery and the staging janitor remove them at once).
CREATE INDEX "ingest_jobs_staged_path_idx" ON "ingest_jobs" ("staged_path");
