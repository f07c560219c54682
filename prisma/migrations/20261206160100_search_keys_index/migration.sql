-- The GIN index of files_search_keys (previous migration). CONCURRENTLY, alone in its migration (it cannot run in a
-- transaction block): writes to files go on while it is built (124 s at 1,000,000 files on the 2-core machine under
-- a load average of 5; a plain CREATE INDEX took 67 s and would hold commits, edits and deletes that long). Should the
-- build fail, it leaves an invalid index: DROP INDEX files_search_keys_idx, then
-- `prisma migrate resolve --rolled-back 20261206160100_search_keys_index` and deploy again (no IF NOT EXISTS, so an
-- invalid index is never taken for a built one).
CREATE INDEX CONCURRENTLY "files_search_keys_idx" ON "files" USING GIN (files_search_keys("search_vector", "tags", "created_at"));
