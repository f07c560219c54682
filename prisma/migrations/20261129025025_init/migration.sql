-- CreateTable
CREATE TABLE "files" (
    "id" UUID NOT NULL,
    "file_name" TEXT NOT NULL,
    "content_type" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "sha256" CHAR(64) NOT NULL,
    "description" TEXT,
    "version" TEXT,
    "tags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "owner" TEXT NOT NULL,
    "owner_name" TEXT,
    "element_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revision" INTEGER NOT NULL DEFAULT 1,
    "deleted_at" TIMESTAMPTZ(3),
    "attr_path" TEXT NOT NULL,
    "search_vector" tsvector,

    CONSTRAINT "files_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "blobs" (
    "sha256" CHAR(64) NOT NULL,
    "size" BIGINT NOT NULL,
    "storage_key" TEXT NOT NULL,
    "ref_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_verified_at" TIMESTAMPTZ(3),
    "orphaned_at" TIMESTAMPTZ(3),

    CONSTRAINT "blobs_pkey" PRIMARY KEY ("sha256")
);

-- CreateTable
CREATE TABLE "ingest_jobs" (
    "id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "progress" INTEGER NOT NULL DEFAULT 0,
    "principal" TEXT NOT NULL,
    "principal_name" TEXT,
    "idempotency_key" TEXT,
    "batch_index" INTEGER NOT NULL DEFAULT 0,
    "file_name" TEXT NOT NULL,
    "content_type" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "staged_path" TEXT,
    "declared_sha256" CHAR(64),
    "sha256" CHAR(64),
    "file_id" UUID NOT NULL,
    "duplicate_of" UUID,
    "params" JSONB NOT NULL DEFAULT '{}',
    "error_code" TEXT,
    "error_message" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "ingest_jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "wal_entries" (
    "id" BIGSERIAL NOT NULL,
    "tx_id" UUID NOT NULL,
    "operation" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "file_id" UUID,
    "job_id" UUID,
    "actor" TEXT,
    "payload" JSONB NOT NULL DEFAULT '{}',
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "duration_ms" INTEGER,
    "error" TEXT,

    CONSTRAINT "wal_entries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "element_state" (
    "id" SERIAL NOT NULL,
    "mode" TEXT NOT NULL,
    "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "changed_by" TEXT,
    "reason" TEXT,

    CONSTRAINT "element_state_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "files_sha256_idx" ON "files"("sha256");

-- CreateIndex
CREATE INDEX "files_created_at_id_idx" ON "files"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "files_size_id_idx" ON "files"("size", "id");

-- CreateIndex
CREATE INDEX "files_file_name_id_idx" ON "files"("file_name", "id");

-- CreateIndex
CREATE INDEX "files_owner_created_at_idx" ON "files"("owner", "created_at" DESC);

-- CreateIndex
CREATE INDEX "files_content_type_idx" ON "files"("content_type");

-- CreateIndex
CREATE INDEX "files_tags_idx" ON "files" USING GIN ("tags");

-- CreateIndex
CREATE INDEX "files_search_vector_idx" ON "files" USING GIN ("search_vector");

-- CreateIndex
CREATE INDEX "blobs_orphaned_at_idx" ON "blobs"("orphaned_at");

-- CreateIndex
CREATE INDEX "ingest_jobs_state_updated_at_idx" ON "ingest_jobs"("state", "updated_at");

-- CreateIndex
CREATE INDEX "ingest_jobs_file_id_idx" ON "ingest_jobs"("file_id");

-- CreateIndex
CREATE UNIQUE INDEX "ingest_jobs_principal_idempotency_key_batch_index_key" ON "ingest_jobs"("principal", "idempotency_key", "batch_index");

-- CreateIndex
CREATE INDEX "wal_entries_status_started_at_idx" ON "wal_entries"("status", "started_at");

-- CreateIndex
CREATE INDEX "wal_entries_file_id_idx" ON "wal_entries"("file_id");

-- CreateIndex
CREATE UNIQUE INDEX "wal_entries_job_id_operation_key" ON "wal_entries"("job_id", "operation");

-- AddForeignKey
ALTER TABLE "files" ADD CONSTRAINT "files_sha256_fkey" FOREIGN KEY ("sha256") REFERENCES "blobs"("sha256") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Full-text search vector, maintained by the database so every writer (API, workers, rebuild-index) agrees.
CREATE FUNCTION files_search_vector_refresh() RETURNS trigger AS $$
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector('simple', coalesce(NEW.file_name, '')), 'A') ||
    setweight(to_tsvector('simple', array_to_string(coalesce(NEW.tags, '{}'), ' ')), 'B') ||
    setweight(to_tsvector('simple', coalesce(NEW.description, '')), 'C');
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER files_search_vector
  BEFORE INSERT OR UPDATE OF file_name, description, tags ON "files"
  FOR EACH ROW EXECUTE FUNCTION files_search_vector_refresh();
