// GET /api/v1/files/search and GET /api/v1/files: filtered, sorted, keyset-paged listing of file metadata.
import { searchFiles } from '../../shared/domain/file-search.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';
import {
  DEFAULT_FILE_SORT,
  FILE_PAGE_DEFAULT_LIMIT,
  filePageSchema,
  fileSearchQuerySchema,
  type FileSearchQuery,
} from '../../contract/file-search.js';

export function searchRoutes(ctx: ApiContext): RouteSpec[] {
  const list = async (query: FileSearchQuery) => {
    const { tag, sort, limit, ...filters } = query;
    return searchFiles(ctx.db, { ...filters, tags: tag, sort: sort ?? DEFAULT_FILE_SORT, limit: limit ?? FILE_PAGE_DEFAULT_LIMIT });
  };
  // Search and listing are one operation under two paths (SPEC §5).
  const paths = [
    { path: '/api/v1/files/search', summary: 'Search files: full text, filters, sort, keyset pagination' },
    { path: '/api/v1/files', summary: 'List files (newest first by default); the same parameters as search' },
  ];
  return paths.map(({ path, summary }) =>
    defineRoute({
      method: 'get',
      path,
      summary,
      tag: 'files',
      permission: 'file:read',
      mode: 'read',
      query: fileSearchQuerySchema,
      responses: { 200: { description: 'one page of FileMetadata', schema: filePageSchema }, ...errors(400, 401, 403) },
      handler: async (_req, res, { query }) => {
        res.json(await list(query));
      },
    }),
  );
}
