-- Resumable uploads (SPEC §9): durable offset and fields of tus / IETF-draft uploads until they become ingest jobs.
-- CreateTable
CREATE TABLE "resumable_uploads" (
    "id" UUID NOT NULL,
    "owner" TEXT NOT NULL,
    "owner_name" TEXT,
    "protocol" TEXT NOT NULL,
    "length" BIGINT,
    "offset" BIGINT NOT NULL DEFAULT 0,
    "file_name" TEXT NOT NULL,
    "content_type" TEXT NOT NULL,
    "fields" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3),
    "job_id" UUID,

    CONSTRAINT "resumable_uploads_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "resumable_uploads_owner_completed_at_idx" ON "resumable_uploads"("owner", "completed_at");

-- CreateIndex
CREATE INDEX "resumable_uploads_expires_at_idx" ON "resumable_uploads"("expires_at");

