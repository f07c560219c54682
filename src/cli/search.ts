// `artstore search [filters]`: one page (or --all pages) of file metadata, as a table or JSON.
import type { FileMetadata, SearchQuery } from '../client/index.js';
import { formatBytes } from './ingest-output.js';
import { clientFrom, CONNECTION_FLAGS, EXIT_OK, parseFlags } from './usage.js';

export const SEARCH_USAGE = `usage: artstore search [QUERY] [--name S] [--type MEDIA/TYPE] [--tag T]... [--owner SUB] [--sha256 HEX]
                       [--min-size N] [--max-size N] [--from DATE] [--to DATE] [--sort -createdAt|createdAt|size|-size|fileName]
                       [--limit N] [--cursor C] [--all] [--json] [--url URL] [--token TOKEN]
  QUERY is full text over file name, description and tags. --json prints the page as JSON (with --all: one item per line).`;

export async function searchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    {
      ...CONNECTION_FLAGS,
      name: { type: 'string' },
      type: { type: 'string' },
      tag: { type: 'string', multiple: true },
      owner: { type: 'string' },
      sha256: { type: 'string' },
      'min-size': { type: 'string' },
      'max-size': { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      sort: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    SEARCH_USAGE,
  );
  const client = clientFrom(values, SEARCH_USAGE);
  // The element validates the filters (its own zod schema); a 400 becomes a usage error in main.ts.
  const query: SearchQuery = {
    q: positionals.length > 0 ? positionals.join(' ') : undefined,
    fileName: values.name,
    contentType: values.type,
    tag: values.tag,
    owner: values.owner,
    sha256: values.sha256,
    minSize: values['min-size'],
    maxSize: values['max-size'],
    createdFrom: values.from,
    createdTo: values.to,
    sort: values.sort,
    limit: values.limit,
    cursor: values.cursor,
  };
  if (values.all) {
    const rows: FileMetadata[] = [];
    for await (const item of client.searchAll(query)) {
      if (values.json) process.stdout.write(`${JSON.stringify(item)}\n`);
      else rows.push(item);
    }
    if (!values.json) process.stdout.write(table(rows));
    return EXIT_OK;
  }
  const page = await client.search(query);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(page)}\n`);
  } else {
    process.stdout.write(table(page.items));
    if (page.nextCursor) process.stderr.write(`more: --cursor ${page.nextCursor}\n`);
  }
  return EXIT_OK;
}

function table(items: FileMetadata[]): string {
  const rows = [['ID', 'SIZE', 'CREATED', 'OWNER', 'NAME']];
  for (const f of items) rows.push([f.id, formatBytes(f.size), f.createdAt.slice(0, 19).replace('T', ' '), f.owner, f.fileName]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
