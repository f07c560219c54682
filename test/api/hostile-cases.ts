// The table of hostile-input.test.ts: raw requests, each with the statuses it may be answered with.
import { multipart, multipartType } from '../helpers/multipart.js';
import { frame, type RawRequest } from '../helpers/raw-http.js';

export interface Tokens {
  user: string;
  readonly: string;
  admin: string;
  none: string;
  hs256: string;
  nulSub: string;
  nulName: string;
  expired: string;
  superuser: string;
  refresh: string;
}

export interface Hostile {
  name: string;
  bytes: Buffer;
  /** Statuses that are right for this request; never a 5xx. */
  expect: number[];
  /** End our side after writing (a client that sends less than it announced and gives up). */
  halfClose?: boolean;
}

const B = 'hostileboundary';
const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const disposition = (name: string, filename?: string) =>
  `Content-Disposition: form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}`;
const filePart = (filename = 'f.bin', content: Buffer | string = 'bytes') => ({ headers: [disposition('file', filename)], content });
const field = (name: string, value: string) => ({ headers: [disposition(name)], content: Buffer.from(value, 'utf8') });
/** UTF-8 text as the latin1 string whose bytes it is (headers are written byte for byte). */
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

export function hostileCases({ tokens, fileId }: { tokens: Tokens; fileId: string }): Hostile[] {
  const auth = (token = tokens.user) => ({ Authorization: `Bearer ${token}` });
  const req = (r: RawRequest) => frame(r);
  const upload = (body: Buffer, headers: Record<string, string> = {}, query = '') =>
    req({ method: 'POST', path: `/api/v1/files/upload${query}`, headers: { ...auth(), 'Content-Type': multipartType(B), ...headers }, body });
  const json = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
    req({ method, path, headers: { ...auth(), 'Content-Type': 'application/json', ...headers }, body });
  const patch = (body: string, headers: Record<string, string> = {}) => json('PATCH', `/api/v1/files/${fileId}/metadata`, body, headers);
  const get = (path: string, headers: Record<string, string> = auth()) => req({ path, headers });
  const download = (range: string, extra: Record<string, string> = {}) => get(`/api/v1/files/${fileId}`, { ...auth(), Range: range, ...extra });
  const search = (query: string) => get(`/api/v1/files/search?${query}`);
  const bad = [400];

  const cases: Hostile[] = [
    // --- multipart ---
    { name: 'multipart without a boundary', bytes: req({ method: 'POST', path: '/api/v1/files/upload', headers: { ...auth(), 'Content-Type': 'multipart/form-data' }, body: 'x' }), expect: bad },
    { name: 'multipart whose body uses another boundary', bytes: upload(multipart('other', [filePart()])), expect: bad },
    { name: 'multipart cut off before the closing boundary', bytes: upload(multipart(B, [filePart()], false)), expect: bad },
    { name: 'multipart cut off inside a part header', bytes: upload(Buffer.from(`--${B}\r\nContent-Disposition: form-da`)), expect: bad },
    { name: 'multipart body shorter than Content-Length, then the client gives up', bytes: upload(multipart(B, [filePart()]), { 'Content-Length': '5000' }), halfClose: true, expect: bad },
    { name: 'multipart with only fields, no file part', bytes: upload(multipart(B, [field('description', 'no file')])), expect: bad },
    { name: 'multipart with an empty body', bytes: upload(Buffer.alloc(0)), expect: bad },
    { name: 'multipart part without Content-Disposition', bytes: upload(multipart(B, [{ headers: ['Content-Type: text/plain'], content: 'x' }])), expect: bad },
    { name: 'multipart field name of 5,000 bytes', bytes: upload(multipart(B, [field('d'.repeat(5000), 'x'), filePart()])), expect: bad },
    { name: 'multipart duplicate description fields', bytes: upload(multipart(B, [field('description', 'a'), field('description', 'b'), filePart()])), expect: bad },
    { name: 'multipart NUL in a field value', bytes: upload(multipart(B, [field('description', 'a\u0000b'), filePart()])), expect: bad },
    { name: 'multipart NUL in a field name', bytes: upload(multipart(B, [field('descr\u0000iption', 'x'), filePart()])), expect: bad },
    { name: 'multipart NUL in an RFC 5987 file name (stripped)', bytes: upload(multipart(B, [{ headers: ["Content-Disposition: form-data; name=\"file\"; filename*=utf-8''a%00b.txt"], content: 'x' }])), expect: [202] },
    { name: 'multipart non-UTF-8 file name bytes (replaced)', bytes: upload(multipart(B, [filePart('caf\xe9\xff.txt')])), expect: [202] },
    { name: 'multipart traversal in the file name (last segment kept)', bytes: upload(multipart(B, [filePart('../../../etc/passwd')])), expect: [202] },
    { name: 'multipart bidi override in the file name (stripped)', bytes: upload(multipart(B, [filePart(utf8('invoice\u202efdp.exe'))])), expect: [202] },
    { name: 'multipart file name of 5,000 bytes', bytes: upload(multipart(B, [filePart(`${'x'.repeat(5000)}.bin`)])), expect: bad },
    { name: 'multipart unknown field', bytes: upload(multipart(B, [field('owner', 'mallory'), filePart()])), expect: bad },
    { name: 'multipart file under another part name', bytes: upload(multipart(B, [{ headers: [disposition('upload', 'x.bin')], content: 'x' }])), expect: bad },
    { name: 'multipart field named __proto__', bytes: upload(multipart(B, [field('__proto__', '{"role":"admin"}'), filePart()])), expect: bad },
    { name: 'multipart bracketed field name tags[0]', bytes: upload(multipart(B, [field('tags[0]', 'a'), filePart()])), expect: bad },
    { name: 'multipart 25 fields', bytes: upload(multipart(B, [...Array.from({ length: 25 }, () => field('description', 'x')), filePart()])), expect: bad },
    { name: 'multipart field value of 100 KB', bytes: upload(multipart(B, [field('description', 'x'.repeat(100_000)), filePart()])), expect: [413] },
    { name: 'multipart part header over 16 KB', bytes: upload(multipart(B, [{ headers: [disposition('file', 'f.bin'), `X-Pad: ${'p'.repeat(17_000)}`], content: 'x' }])), expect: bad },
    { name: 'multipart boundary of 2,000 characters', bytes: req({ method: 'POST', path: '/api/v1/files/upload', headers: { ...auth(), 'Content-Type': `multipart/form-data; boundary=${'b'.repeat(2000)}` }, body: multipart('b'.repeat(2000), [field('tags', 'a')]) }), expect: bad },
    { name: 'multipart metadata not JSON', bytes: upload(multipart(B, [field('metadata', '{not json'), filePart()])), expect: bad },
    { name: 'multipart metadata a JSON array', bytes: upload(multipart(B, [field('metadata', '[1,2]'), filePart()])), expect: bad },
    { name: 'multipart metadata 3,000 levels deep', bytes: upload(multipart(B, [field('metadata', nested(3000)), filePart()])), expect: bad },
    { name: 'multipart metadata with a \\u0000 escape', bytes: upload(multipart(B, [field('metadata', '{"a":"\\u0000"}'), filePart()])), expect: bad },
    { name: 'multipart metadata with 1e999', bytes: upload(multipart(B, [field('metadata', '{"a":1e999}'), filePart()])), expect: bad },
    { name: 'multipart tags as a JSON array of numbers', bytes: upload(multipart(B, [field('tags', '[1,2]'), filePart()])), expect: bad },
    { name: 'multipart sha256 not hex', bytes: upload(multipart(B, [field('sha256', 'z'.repeat(64)), filePart()])), expect: bad },
    { name: 'multipart fileId not a UUID', bytes: upload(multipart(B, [field('fileId', "1' OR '1'='1"), filePart()])), expect: bad },
    { name: 'upload with wait=abc', bytes: upload(multipart(B, [filePart()]), {}, '?wait=abc'), expect: bad },
    { name: 'upload with an Idempotency-Key of spaces', bytes: upload(multipart(B, [filePart()]), { 'Idempotency-Key': 'a b c' }), expect: bad },
    { name: 'upload as text/plain', bytes: req({ method: 'POST', path: '/api/v1/files/upload', headers: { ...auth(), 'Content-Type': 'text/plain' }, body: 'hello' }), expect: bad },
    // --- JSON ---
    { name: 'JSON body shorter than Content-Length, then the client gives up', bytes: patch('{"description": "x"}', { 'Content-Length': '500' }), halfClose: true, expect: bad },
    { name: 'JSON not valid', bytes: patch('{"description": '), expect: bad },
    { name: 'JSON 5,000 levels deep', bytes: patch(`{"metadata": ${nested(5000)}}`), expect: bad },
    { name: 'JSON array 10,000 levels deep', bytes: json('POST', '/api/v1/files/exists', `${'['.repeat(10_000)}${']'.repeat(10_000)}`), expect: bad },
    { name: 'JSON number 1e999', bytes: patch('{"metadata": {"n": 1e999}}'), expect: bad },
    { name: 'JSON number of 5,000 digits', bytes: patch(`{"metadata": {"n": ${'9'.repeat(5000)}}}`), expect: bad },
    { name: 'JSON wrong type for tags', bytes: patch('{"tags": "a,b"}'), expect: bad },
    { name: 'JSON wrong type for description', bytes: patch('{"description": {"$ne": null}}'), expect: bad },
    { name: 'JSON array as the PATCH body', bytes: patch('[]'), expect: bad },
    { name: 'JSON null as the body', bytes: patch('null'), expect: bad },
    { name: 'JSON empty body', bytes: patch(''), expect: bad },
    { name: 'JSON __proto__ at the top', bytes: patch('{"__proto__": {"role": "admin"}, "description": "x"}'), expect: bad },
    { name: 'JSON __proto__ inside metadata', bytes: patch('{"metadata": {"__proto__": {"isAdmin": true}}}'), expect: bad },
    { name: 'JSON constructor.prototype', bytes: patch('{"constructor": {"prototype": {"isAdmin": true}}}'), expect: bad },
    { name: 'JSON NUL in a metadata key', bytes: patch('{"metadata": {"k\\u0000": 1}}'), expect: bad },
    { name: 'JSON unpaired surrogate', bytes: patch('{"description": "\\ud800"}'), expect: bad },
    { name: 'JSON body over 1 MB', bytes: patch(`{"description": "${'x'.repeat(1_100_000)}"}`), expect: [413] },
    { name: 'JSON in an unsupported charset', bytes: patch('{"description": "x"}', { 'Content-Type': 'application/json; charset=x-unknown' }), expect: [400, 415] },
    { name: 'JSON gzip that is not gzip', bytes: patch('{"description": "x"}', { 'Content-Encoding': 'gzip' }), expect: bad },
    { name: 'JSON exists with 1,001 digests', bytes: json('POST', '/api/v1/files/exists', JSON.stringify({ sha256: Array(1001).fill('a'.repeat(64)) })), expect: bad },
    { name: 'mode change by a user', bytes: json('PUT', '/api/v1/mode', '{"mode": "ro"}'), expect: [403] },
    { name: 'mode change to an unknown mode', bytes: json('PUT', '/api/v1/mode', '{"mode": "x\\u0000"}', auth(tokens.admin)), expect: bad },
    // --- If-Match ---
    { name: 'If-Match garbage', bytes: patch('{"description": "x"}', { 'If-Match': 'garbage' }), expect: bad },
    { name: 'If-Match of 12 digits', bytes: patch('{"description": "x"}', { 'If-Match': '"999999999999"' }), expect: bad },
    { name: 'If-Match stale', bytes: patch('{"description": "x"}', { 'If-Match': '"7"' }), expect: [412] },
    // --- ranges ---
    { name: 'range inverted', bytes: download('bytes=10-5'), expect: [200] },
    { name: 'range multiple', bytes: download('bytes=0-1,5-6'), expect: [200] },
    { name: 'range start past any size', bytes: download(`bytes=${'9'.repeat(30)}-`), expect: [416] },
    { name: 'range end past any size', bytes: download(`bytes=0-${'9'.repeat(30)}`), expect: [206] },
    { name: 'range of 8,000 digits', bytes: download(`bytes=${'1'.repeat(8000)}-`), expect: [416] },
    { name: 'range suffix zero', bytes: download('bytes=-0'), expect: [416] },
    { name: 'range garbage', bytes: download('bytes=abc'), expect: [200] },
    { name: 'range in another unit', bytes: download('items=0-1'), expect: [200] },
    { name: 'range negative start', bytes: download('bytes=-5-10'), expect: [200] },
    { name: 'If-Range garbage', bytes: download('bytes=0-1', { 'If-Range': 'W/"garbage", *' }), expect: [200] },
    { name: 'control character in a header value', bytes: download('bytes=0-1', { 'If-Range': '\u0001' }), expect: bad },
    // --- headers and framing (the parser's own errors) ---
    { name: 'header of 20 KB', bytes: get('/health/live', { 'X-Big': 'h'.repeat(20_000) }), expect: [431] },
    { name: 'URL of 20 KB', bytes: get(`/api/v1/files/search?q=${'u'.repeat(20_000)}`), expect: [431] },
    { name: 'Content-Length with Transfer-Encoding', bytes: req({ method: 'POST', path: '/api/v1/files/exists', headers: { ...auth(), 'Content-Type': 'application/json', 'Content-Length': '5', 'Transfer-Encoding': 'chunked' }, body: '0\r\n\r\n' }), expect: bad },
    { name: 'two different Content-Lengths', bytes: Buffer.from(`POST /api/v1/files/exists HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{}`), expect: bad },
    { name: 'malformed chunk size', bytes: req({ method: 'POST', path: '/api/v1/files/exists', headers: { ...auth(), 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, body: 'zz\r\n{}\r\n0\r\n\r\n' }), expect: bad },
    { name: 'NUL in a header value', bytes: Buffer.from('GET /health/live HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\nConnection: close\r\n\r\n', 'latin1'), expect: bad },
    { name: 'garbage request line', bytes: Buffer.from('\u0016\u0003\u0001 NOT HTTP\r\n\r\n', 'latin1'), expect: bad },
    { name: 'unknown method', bytes: Buffer.from('BREW /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), expect: bad },
    { name: 'HTTP/1.1 without Host', bytes: Buffer.from('GET /health/live HTTP/1.1\r\nConnection: close\r\n\r\n'), expect: bad },
    { name: 'Expect other than 100-continue', bytes: get('/health/live', { Expect: 'teapot' }), expect: [417] },
    { name: 'absolute-form target for another host', bytes: Buffer.from(`GET http://evil.example/api/v1/files/${fileId}/metadata HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer ${tokens.user}\r\nConnection: close\r\n\r\n`), expect: [200, 400, 404] },
    // --- tokens ---
    { name: 'token alg none', bytes: get('/api/v1/files', auth(tokens.none)), expect: [401] },
    { name: 'token HS256 with the public key', bytes: get('/api/v1/files', auth(tokens.hs256)), expect: [401] },
    { name: 'token garbage', bytes: get('/api/v1/files', auth('garbage')), expect: [401] },
    { name: 'token of three garbage parts', bytes: get('/api/v1/files', auth('a.b.c')), expect: [401] },
    { name: 'token of 12 KB', bytes: get('/api/v1/files', auth('x'.repeat(12_000))), expect: [401] },
    { name: 'Basic credentials', bytes: get('/api/v1/files', { Authorization: 'Basic YWRtaW46YWRtaW4=' }), expect: [401] },
    { name: 'token with NUL in sub', bytes: get('/api/v1/files', auth(tokens.nulSub)), expect: [401] },
    { name: 'token with NUL in name', bytes: upload(multipart(B, [filePart()]), auth(tokens.nulName)), expect: [401] },
    { name: 'token expired', bytes: get('/api/v1/files', auth(tokens.expired)), expect: [401] },
    { name: 'token of an unknown role', bytes: get('/api/v1/files', auth(tokens.superuser)), expect: [403] },
    { name: 'refresh token', bytes: get('/api/v1/files', auth(tokens.refresh)), expect: [401] },
    { name: 'readonly token uploading', bytes: upload(multipart(B, [filePart()]), auth(tokens.readonly)), expect: [403] },
    { name: 'user token on the scrub', bytes: json('POST', '/api/v1/admin/scrub', '{}'), expect: [403] },
    // --- paths and query ---
    { name: 'path traversal', bytes: get('/api/v1/files/../../../../etc/passwd'), expect: [404] },
    { name: 'encoded slashes', bytes: get('/api/v1/files/..%2F..%2F..%2Fetc%2Fpasswd'), expect: [404] },
    { name: 'non-UUID file id', bytes: get('/api/v1/files/123'), expect: [404] },
    { name: 'SQL in the file id', bytes: get("/api/v1/files/1'%20OR%20'1'='1/metadata"), expect: [404] },
    { name: 'malformed percent-encoding', bytes: get('/api/v1/files/%ZZ'), expect: bad },
    { name: 'NUL in a path parameter', bytes: get('/api/v1/files/%00/metadata'), expect: bad },
    { name: 'NUL in a job id', bytes: get('/api/v1/jobs/a%00b'), expect: bad },
    { name: 'NUL in job ids', bytes: get('/api/v1/jobs?ids=%00'), expect: bad },
    { name: 'overlong path under the header limit', bytes: get(`/api/v1/files/${'a'.repeat(10_000)}`), expect: [404] },
    { name: 'NUL in q', bytes: search('q=%00'), expect: bad },
    { name: 'NUL in a tag', bytes: search('tag=a&tag=b%00'), expect: bad },
    { name: 'repeated limit', bytes: search('limit=1&limit=2'), expect: bad },
    { name: '__proto__ as a query parameter', bytes: search('__proto__=1'), expect: bad },
    { name: 'cursor garbage', bytes: search('cursor=%%%'), expect: bad },
    { name: 'cursor with an impossible date', bytes: search(`cursor=${Buffer.from(JSON.stringify({ s: '-createdAt', k: '2026-02-30T00:00:00.000Z', id: fileId })).toString('base64url')}`), expect: bad },
    { name: 'createdFrom year 0', bytes: search('createdFrom=0000-01-01'), expect: bad },
    { name: 'limit negative', bytes: search('limit=-1'), expect: bad },
    { name: 'q of 600 characters', bytes: search(`q=${'q'.repeat(600)}`), expect: bad },
    { name: 'q of websearch operators only', bytes: search(`q=${encodeURIComponent('-"" or or -- ""')}`), expect: [200] },
  ];
  return cases;
}
