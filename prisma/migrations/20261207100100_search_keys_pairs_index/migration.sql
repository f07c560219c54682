-- The GIN index of files_search_keys_next (previous migration), built CONCURRENTLY and alone in its migration as
-- 20261206160100_search_keys_index is: writes go on meanwhile. Should the build fail, it leaves an invalid index:
-- DROP INDEX files_search_keys_next_idx, then `prisma migrate resolve --rolled-back
-- 20261207100100_search_keys_pairs_index` and deploy again.
CREATE INDEX CONCURRENTLY "files_search_keys_next_idx" ON "files" USING GIN (files_search_keys_next("search_vector", "tags", "created_at"));
