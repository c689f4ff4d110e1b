// The OpenAPI 3.1 description of /api/v1 (DESIGN.md's contract), served at /api/v1/openapi.json.
// The contract's endpoints are described here in full; every other /api route is added from the
// access-control inventory (its note and who may call it), so the document never misses a route.
import { accessTable } from '../web/access.ts';

const problem = { $ref: '#/components/responses/Problem' };
const json = (schema: unknown) => ({ 'application/json': { schema } });
const ok = (description: string, schema?: unknown) => (schema ? { description, content: json(schema) } : { description });
const list = (item: unknown) => ({ type: 'object', required: ['items', 'total'], properties: { items: { type: 'array', items: item }, total: { type: 'integer' } } });
const errors = { '400': problem, '401': problem, '403': problem, '503': problem };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'integer' } };
const q = (name: string, description: string, schema: unknown = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });
const workbook = (description: string) => ({ description, content: { 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': { schema: { type: 'string', format: 'binary' } } } });

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'NHI Query Audit API（健保資料查詢管理系統）',
    version: '1.0.0',
    description: 'JSON API of the county NHI query audit system. Errors are application/problem+json (RFC 9457) with a stable `type` and, for validation errors, `errors: [{field, message}]` (batch fields as `entries.N.caseNo`). Browser sessions use the `nhi.sid` cookie and send `X-CSRF-Token` (from GET /api/v1/me) on state-changing calls; integrations send `Authorization: Bearer <token>` with a service token bound to one unit. Instants are ISO 8601 (UTC). JSON bodies are UTF-8 and nest at most 32 deep; text in any field (body or query string) must be well-formed Unicode without control characters (tab, LF and CR allowed where text may span lines) or bidirectional overrides U+202A–202E, U+2066–2069, else 400 naming the field. A GET never changes state.',
  },
  servers: [{ url: '/' }],
  security: [{ session: [] }, { bearer: [] }],
  components: {
    securitySchemes: {
      session: { type: 'apiKey', in: 'cookie', name: 'nhi.sid', description: 'Signed-in session; state-changing calls also need the X-CSRF-Token header.' },
      bearer: { type: 'http', scheme: 'bearer', description: 'Service token (nhiq_…) bound to one unit; created by an admin, shown once, stored as SHA-256.' },
    },
    responses: {
      Problem: { description: 'Problem details (RFC 9457)', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
    },
    schemas: {
      Problem: {
        type: 'object', required: ['type', 'title', 'status'],
        properties: {
          type: { type: 'string', format: 'uri', examples: ['https://nhi-audit.local/problems/validation'] }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, instance: { type: 'string' },
          errors: { type: 'array', items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string', examples: ['entries.3.caseNo'] }, message: { type: 'string' } } } },
        },
      },
      Subject: {
        type: 'object', required: ['type', 'value'],
        description: 'Query conditions of the person queried (被查詢者查詢條件). national-id and resident-certificate (old: two letters; new: letter + 8/9) are checked by checksum; name-birthdate is "姓名 YYYY-MM-DD". Stored as HMAC + AES-256-GCM; shown masked (A12****789).',
        properties: { type: { enum: ['national-id', 'resident-certificate', 'name-birthdate', 'other'] }, value: { type: 'string', maxLength: 200 } },
      },
      QueryLogInput: {
        type: 'object', required: ['caseNo', 'reason', 'opCode', 'scope', 'subject'],
        properties: {
          caseNo: { type: 'string', maxLength: 64, description: '案號: not blank or a placeholder; matches the agency pattern when it has one' },
          reason: { type: 'string', maxLength: 500, description: '查詢事由: at least REASON_MIN_LENGTH characters, not a placeholder (查詢, 無, test, …)' },
          opCode: { type: 'string', description: '查詢作業代號 within the clerk’s permissions' },
          scope: { type: 'string', description: 'business scope code (e.g. 2-1) authorised for the agency and held by the clerk; 2-6 is inactive' },
          queryRequestId: { type: ['integer', 'null'], description: 'the clerk’s approved, open query request form for the same scope; required where the agency requires one (otherwise the entry is flagged no-request)' },
          subject: { $ref: '#/components/schemas/Subject' },
          account: { type: ['string', 'null'], description: 'Service tokens only: the account of the active user (of the token’s unit or below, holding the NHI permission) who made the query. Default: the token’s service account. With a session it must be absent or the signed-in account.' },
        },
      },
      Recorded: { type: 'object', required: ['id', 'hash'], properties: { id: { type: 'integer' }, hash: { type: 'string', description: 'SHA-256 chain hash of the entry' } } },
      QueryLog: {
        type: 'object',
        properties: {
          id: { type: 'integer' }, seq: { type: 'integer' }, account: { type: 'string' }, unit: { type: 'string' }, queriedAt: { type: 'string', format: 'date-time' }, opCode: { type: 'string' }, scope: { type: 'string' },
          queryRequestId: { type: ['integer', 'null'] }, caseNo: { type: 'string' }, reason: { type: 'string' }, subject: { type: 'object', properties: { type: { type: 'string' }, masked: { type: 'string' } } },
          clientIp: { type: ['string', 'null'] }, source: { enum: ['web', 'api'] }, hash: { type: 'string' }, flags: { type: 'array', items: { type: 'string', examples: ['no-request'] } },
        },
      },
      QueryRequestInput: {
        type: 'object', required: ['caseNo', 'purpose', 'scope', 'validFrom', 'validTo'],
        properties: { caseNo: { type: 'string' }, purpose: { type: 'string' }, scope: { type: 'string' }, validFrom: { type: 'string', format: 'date' }, validTo: { type: 'string', format: 'date' }, expectedSubjects: { type: 'array', maxItems: 50, items: { $ref: '#/components/schemas/Subject' } } },
      },
      QueryRequest: {
        type: 'object',
        properties: {
          id: { type: 'integer' }, caseNo: { type: 'string' }, purpose: { type: 'string' }, scope: { type: 'string' }, unit: { type: 'string' }, requester: { type: 'string' }, status: { enum: ['pending', 'approved', 'rejected', 'withdrawn'] },
          validFrom: { type: 'string', format: 'date' }, validTo: { type: 'string', format: 'date' }, open: { type: 'boolean' }, decidedBy: { type: ['string', 'null'] }, decidedAt: { type: ['string', 'null'], format: 'date-time' }, note: { type: ['string', 'null'] }, expectedSubjects: { type: 'integer', description: 'how many (stored encrypted)' },
        },
      },
    },
  },
  paths: {
    '/api/v1/auth/login': { post: { summary: 'Sign in', security: [], requestBody: { required: true, content: json({ type: 'object', required: ['account', 'password'], properties: { account: { type: 'string' }, password: { type: 'string' } } }) }, responses: { '204': ok('signed in; session cookie set'), '401': problem, '409': problem, '423': problem, '429': problem } } },
    '/api/v1/auth/logout': { post: { summary: 'Sign out', responses: { '204': ok('signed out'), '401': problem, '403': problem } } },
    '/api/v1/auth/password': { post: { summary: 'Change password (no session needed); ends every other session of the account', security: [], requestBody: { required: true, content: json({ type: 'object', required: ['account', 'current', 'next'], properties: { account: { type: 'string' }, current: { type: 'string' }, next: { type: 'string' } } }) }, responses: { '204': ok('changed'), '400': problem, '401': problem, '423': problem, '429': problem } } },
    '/api/v1/me': { get: { summary: 'The signed-in account', responses: { '200': ok('account', { type: 'object', properties: { account: { type: 'string' }, roles: { type: 'array', items: { type: 'string' } }, unit: { type: 'object' }, permissions: { type: 'array', items: { type: 'object', properties: { scope: { type: 'string' }, opCode: { type: 'string' } } } }, notices: { type: 'array', description: 'lockouts of this account since its previous sign-in', items: { type: 'object', properties: { type: { type: 'string', enum: ['lockout'] }, at: { type: 'string', format: 'date-time' }, address: { type: ['string', 'null'] }, lockedUntil: { type: ['string', 'null'], format: 'date-time' } } } }, csrfToken: { type: 'string' } } }), '401': problem } } },
    '/api/v1/units': { get: { summary: 'The unit tree', responses: { '200': ok('units', list({ type: 'object' })), '401': problem } }, post: { summary: 'Create a unit (admins, within their subtree)', responses: { '201': ok('created'), ...errors } } },
    '/api/v1/users': { get: { summary: 'Users within the caller’s reach', responses: { '200': ok('users', list({ type: 'object' })), '401': problem, '403': problem } }, post: { summary: 'Provision a user (layered delegation)', responses: { '201': ok('created'), ...errors } } },
    '/api/v1/account-requests': { post: { summary: 'File an account create/change request listing NHI query permissions', responses: { '201': ok('filed'), ...errors } } },
    '/api/v1/account-requests/{id}/decision': { post: { summary: 'Approve or reject an account request', parameters: [idParam], responses: { '200': ok('decided'), ...errors, '404': problem, '409': problem } } },
    '/api/v1/query-requests': {
      get: { summary: 'Query request forms (申請單) visible to the caller', parameters: [q('status', 'pending | approved | rejected'), q('mine', '1: only the caller’s own'), q('inbox', '1: pending forms the caller (a supervisor) may decide'), q('open', '1: approved and valid today')], responses: { '200': ok('forms', list({ $ref: '#/components/schemas/QueryRequest' })), '401': problem } },
      post: { summary: 'File a query request form (clerk)', requestBody: { required: true, content: json({ $ref: '#/components/schemas/QueryRequestInput' }) }, responses: { '201': ok('filed, pending', { $ref: '#/components/schemas/QueryRequest' }), ...errors } },
    },
    '/api/v1/query-requests/{id}/decision': {
      post: { summary: 'Approve or reject a form (a supervisor of the clerk’s unit or above in the same agency; never their own)', parameters: [idParam], requestBody: { required: true, content: json({ type: 'object', required: ['decision'], properties: { decision: { enum: ['approve', 'reject'] }, note: { type: 'string', description: 'required when rejecting' } } }) }, responses: { '200': ok('decided', { $ref: '#/components/schemas/QueryRequest' }), ...errors, '404': problem, '409': problem } },
    },
    '/api/v1/query-logs': {
      post: {
        summary: 'Record NHI queries (查詢日誌): one entry or a batch of up to 500, all or nothing',
        description: 'Acknowledged (201) only after the transaction committed; 503 when the database is unavailable (nothing written). Each entry is chained into the tamper-evident log. With a service token the clerk is named by `account` (default: the token’s service account).',
        requestBody: { required: true, content: json({ oneOf: [{ $ref: '#/components/schemas/QueryLogInput' }, { type: 'object', required: ['entries'], properties: { entries: { type: 'array', minItems: 1, maxItems: 500, items: { $ref: '#/components/schemas/QueryLogInput' } } } }] }) },
        responses: { '201': ok('recorded', { oneOf: [{ $ref: '#/components/schemas/Recorded' }, { type: 'object', properties: { entries: { type: 'array', items: { $ref: '#/components/schemas/Recorded' } } } }] }), ...errors, '415': problem },
      },
      get: {
        summary: 'Search entries within the caller’s visibility (subjects masked)',
        description: 'Need to know: clerks see their own entries; supervisors and checkers their unit subtree; auditors their agency and what lies under it; the planning department’s admins, auditors and ethics the county; other ethics staff what their investigations cover. A subject identifier is not a filter here (`subjectId` or `subjectType` is a 400): "who queried this person?" is POST /api/v1/query-logs/search.',
        parameters: [q('from', 'YYYY-MM-DD (Taipei) or ISO 8601 instant'), q('to', 'YYYY-MM-DD inclusive or ISO 8601 instant (exclusive)'), q('unit', 'unit code (with its subordinate units)'), q('account', 'account'), q('opCode', 'operation code'), q('caseNo', 'case number'),
          q('withoutRequest', '1: only entries without a request form'), q('offset', 'offset', { type: 'integer' }), q('limit', 'page size ≤ 500 (default 50)', { type: 'integer' })],
        responses: { '200': ok('entries', list({ $ref: '#/components/schemas/QueryLog' })), '400': problem, '401': problem },
      },
    },
    '/api/v1/query-logs/search': {
      post: {
        summary: 'Who queried this person? A reveal-class search by subject identifier, with a stated purpose',
        description: 'Auditors and planning admins over their reach, ethics staff over their investigations (the county for the planning department’s). Matched by keyed HMAC; entries outside what the caller may reveal are simply absent, so the answer never tells "none" from "not yours". Every search is recorded with its purpose and the masked subject. At most SUBJECT_SEARCH_PER_HOUR (default 30) per account and hour: past it 429, and the ethics unit is alerted.',
        requestBody: { required: true, content: json({ type: 'object', required: ['subjectId', 'purpose'], properties: {
          subjectType: { enum: ['national-id', 'resident-certificate', 'name-birthdate', 'other'] }, subjectId: { type: 'string', maxLength: 200 }, purpose: { type: 'string', maxLength: 500, description: 'why the search is made (recorded)' },
          from: { type: 'string' }, to: { type: 'string' }, unit: { type: 'string' }, account: { type: 'string' }, opCode: { type: 'string' }, caseNo: { type: 'string' }, withoutRequest: { type: 'boolean' },
          offset: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 500 } } }) },
        responses: { '200': ok('entries', list({ $ref: '#/components/schemas/QueryLog' })), '400': problem, '401': problem, '403': problem, '429': problem },
      },
    },
    '/api/v1/alerts': { get: { summary: 'Security alerts of the last 30 days within the ethics officer’s reach (identifier-search throttle, lockouts)', responses: { '200': ok('alerts', list({ type: 'object', properties: { id: { type: 'integer' }, at: { type: 'string', format: 'date-time' }, account: { type: 'string' }, unit: { type: 'string' }, what: { type: 'string' } } })), '401': problem, '403': problem } } },
    '/api/v1/query-logs/{id}': { get: { summary: 'One entry within visibility', parameters: [idParam], responses: { '200': ok('entry', { $ref: '#/components/schemas/QueryLog' }), '401': problem, '404': problem } } },
    '/api/v1/query-logs/{id}/subject': { post: { summary: 'The full subject (auditors and planning admins within their reach, ethics within an investigation; 404 outside what the caller sees); recorded as an event', parameters: [idParam], responses: { '200': ok('subject', { $ref: '#/components/schemas/Subject' }), '401': problem, '403': problem, '404': problem } } },
    '/api/v1/service-tokens': {
      get: { summary: 'Service tokens within the admin’s reach', responses: { '200': ok('tokens', list({ type: 'object' })), '401': problem, '403': problem } },
      post: { summary: 'Create a token bound to one unit and its service account; the token is returned once', requestBody: { required: true, content: json({ type: 'object', required: ['name', 'unit', 'account'], properties: { name: { type: 'string' }, unit: { type: 'string' }, account: { type: 'string' } } }) }, responses: { '201': ok('created', { type: 'object', properties: { id: { type: 'integer' }, token: { type: 'string' } } }), ...errors } },
    },
    '/api/v1/service-tokens/{id}/revoke': { post: { summary: 'Revoke a token', parameters: [idParam], responses: { '204': ok('revoked'), '401': problem, '403': problem, '404': problem } } },
    '/api/v1/checks': { get: { summary: 'Monthly samples: unit, period, population, sampleSize, seed, populationDigest, items [{entryId, basis: random | flag:<rule>}]', parameters: [q('month', 'YYYY-MM'), q('unit', 'unit code')], responses: { '200': ok('checks', list({ type: 'object' })), '400': problem, '401': problem, '403': problem } } },
    '/api/v1/checks/{id}/items/{item}': { post: { summary: 'The checker’s verdict on a sampled entry', parameters: [idParam, { name: 'item', in: 'path', required: true, schema: { type: 'integer' } }], responses: { '200': ok('recorded'), ...errors, '404': problem, '409': problem } } },
    '/api/v1/reports/annual': {
      get: { summary: 'The annual filing workbook (xlsx) already made for this year and unit: the newest one (by the annual-report job on 2 January, the 報府備查 page or a POST). Never starts one: 404 `export-not-made` when none is kept', parameters: [q('year', 'YYYY'), q('unit', 'unit code (none: the county-wide workbook)'), q('format', 'xlsx (default) or ods (OpenDocument); or Accept: application/vnd.oasis.opendocument.spreadsheet; anything else is a 400 naming format')], responses: { '200': workbook('the newest workbook made; Last-Modified says when, Content-Location names its export'), '400': problem, '401': problem, '403': problem, '404': problem } },
      post: { summary: 'Make the annual filing workbook (xlsx) now and answer it when done (joins one already running for the same year and unit)', requestBody: { required: true, content: json({ type: 'object', required: ['year'], properties: { year: { type: 'integer', examples: [2025] }, unit: { type: 'string', description: 'unit code (none: the county-wide workbook)' }, format: { type: 'string', enum: ['xlsx', 'ods'], description: 'xlsx (default) or ods; or the Accept header' } } }) }, responses: { '201': workbook('made by this call; Location names its export'), '200': workbook('made by the export already running'), ...errors } },
    },
    '/api/v1/reports/audit-package': {
      get: { summary: 'The audit package for the NHI administration (xlsx) already made for this range and unit (the newest one). Never starts one: 404 `export-not-made` when none is kept', parameters: [q('from', 'YYYY-MM-DD'), q('to', 'YYYY-MM-DD'), q('unit', 'unit code'), q('format', 'xlsx (default) or ods; or the Accept header')], responses: { '200': workbook('the newest package made'), '400': problem, '401': problem, '403': problem, '404': problem } },
      post: { summary: 'Make the audit package for the NHI administration (xlsx): user roster, audit records, signed internal-audit checklists and destruction records of a date range; answered when done', requestBody: { required: true, content: json({ type: 'object', required: ['from', 'to'], properties: { from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' }, unit: { type: 'string' }, format: { type: 'string', enum: ['xlsx', 'ods'] } } }) }, responses: { '201': workbook('made by this call'), '200': workbook('made by the export already running'), ...errors } },
    },
    '/api/v1/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': ok('OpenAPI 3.1') } } },
    '/healthz': { get: { summary: '200 when the database answers, 503 when not', security: [], responses: { '200': ok('ok'), '503': ok('unavailable') } } },
  },
} as const;

const openApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

/** The static document plus every /api route of the inventory it does not describe yet. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = JSON.parse(JSON.stringify(OPENAPI.paths));
  for (const e of accessTable()) {
    if (!e.path.startsWith('/api/')) continue;
    const path = openApiPath(e.path);
    const method = e.method.toLowerCase();
    paths[path] ??= {};
    if (paths[path][method]) continue;
    const params = [...e.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const who = typeof e.who === 'string' ? e.who : `roles: ${e.who.join(', ')}`;
    paths[path][method] = {
      summary: e.note ?? `${e.method} ${path}`,
      description: `Who may call it: ${who}; units reached: ${e.units}.`,
      ...(params.length ? { parameters: params } : {}),
      ...(e.who === 'public' ? { security: [] } : {}),
      responses: { '200': ok('success'), ...(method === 'get' ? {} : { '400': problem }), '401': problem, '403': problem, '404': problem },
    };
  }
  return { ...OPENAPI, paths };
}
