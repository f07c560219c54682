-- The keys index without word pairs (20261206160100), replaced by files_search_keys_next_idx. CONCURRENTLY and alone
-- in its migration: searches, commits and edits go on. Code of the previous release still asks for
-- files_search_keys(...) until the next migration renames the new function to that name (whose keys hold the old
-- ones); between the two it is computed per row, correct but slow: run the two back to back.
DROP INDEX CONCURRENTLY "files_search_keys_idx";
