-- A maintenance job's result (index rebuild, consistency report, cleanup), shown as the Job's `result`.
ALTER TABLE "file_jobs" ADD COLUMN     "result" JSONB;

-- Bytes of the stored blobs, kept in the same transaction as every change of the blobs table (SPEC §10: capacity
-- is polled every few seconds by many clients and gates STORAGE_MAX_BYTES; a sum over blobs per reading is a scan).
-- No blob row may change between the first sum below and the triggers' creation (a migration of a running element).
LOCK TABLE "blobs" IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE "storage_usage" (
    "slot" SMALLINT NOT NULL,
    "used_bytes" BIGINT NOT NULL DEFAULT 0,
    "blob_count" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "storage_usage_pkey" PRIMARY KEY ("slot")
);

-- 16 slots: a transaction adds to the slot of its backend, so concurrent commits seldom wait on one row lock
-- (held until commit), and one transaction only ever locks one slot (no lock-order deadlock between slots).
INSERT INTO "storage_usage" ("slot", "used_bytes", "blob_count") SELECT s, 0, 0 FROM generate_series(0, 15) AS s;
UPDATE "storage_usage" SET "used_bytes" = COALESCE((SELECT sum("size") FROM "blobs"), 0), "blob_count" = (SELECT count(*) FROM "blobs")
WHERE "slot" = 0;

-- Statement-level triggers with transition tables: one counter update per statement, after all of its blob rows
-- are written, so every writer locks blob rows first and its slot last. Blob sizes never change after the insert
-- except by an index rebuild, which recomputes the totals (records/storage-usage.ts).
CREATE FUNCTION storage_usage_blobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE storage_usage SET used_bytes = used_bytes + d.bytes, blob_count = blob_count + d.n
  FROM (SELECT COALESCE(sum(size), 0)::bigint AS bytes, count(*) AS n FROM inserted_blobs) AS d
  WHERE slot = pg_backend_pid() % 16 AND d.n > 0;
  RETURN NULL;
END $$;

CREATE FUNCTION storage_usage_blobs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE storage_usage SET used_bytes = used_bytes - d.bytes, blob_count = blob_count - d.n
  FROM (SELECT COALESCE(sum(size), 0)::bigint AS bytes, count(*) AS n FROM deleted_blobs) AS d
  WHERE slot = pg_backend_pid() % 16 AND d.n > 0;
  RETURN NULL;
END $$;

-- TRUNCATE (rebuild-index --wipe) fires no DELETE trigger.
CREATE FUNCTION storage_usage_blobs_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE storage_usage SET used_bytes = 0, blob_count = 0;
  RETURN NULL;
END $$;

CREATE TRIGGER blobs_storage_usage_insert AFTER INSERT ON "blobs"
  REFERENCING NEW TABLE AS inserted_blobs FOR EACH STATEMENT EXECUTE FUNCTION storage_usage_blobs_inserted();
CREATE TRIGGER blobs_storage_usage_delete AFTER DELETE ON "blobs"
  REFERENCING OLD TABLE AS deleted_blobs FOR EACH STATEMENT EXECUTE FUNCTION storage_usage_blobs_deleted();
CREATE TRIGGER blobs_storage_usage_truncate AFTER TRUNCATE ON "blobs"
  FOR EACH STATEMENT EXECUTE FUNCTION storage_usage_blobs_truncated();
