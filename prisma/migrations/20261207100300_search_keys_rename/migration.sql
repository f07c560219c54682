-- The keys with word pairs take the old names (the function is what src/shared/records/file-search-keys.ts asks for,
-- the index what the plans and tests name). An index refers to its function by oid, so the rename leaves it as built.
DROP FUNCTION files_search_keys(tsvector, text[], timestamptz);
ALTER FUNCTION files_search_keys_next(tsvector, text[], timestamptz) RENAME TO files_search_keys;
ALTER INDEX "files_search_keys_next_idx" RENAME TO "files_search_keys_idx";
