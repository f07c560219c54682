-- The GIN index of files_search_keys (previous migration). CONCURRENTLY, alone in its migration (it cannot run in a
-- transaction): writes to files go on while it is built (about 70 s at 1,000,000 files).
CREATE INDEX CONCURRENTLY IF NOT EXISTS "files_search_keys_idx" ON "files" USING GIN (files_search_keys("search_vector", "tags", "created_at"));
