// Access-control inventory of the queries capability (clause 4(一)). Unit reach is enforced in
// service.ts (visibleUnitsFor, request-form decider rules, token reach).
import type { AccessEntry } from '../web/access.ts';

const ADMINS = ['admin', 'planning_admin'] as const;

export const access: AccessEntry[] = [
  // JSON API
  { method: 'GET', path: '/api/v1/openapi.json', who: 'public', units: 'none', note: 'OpenAPI 3.1 description of /api/v1' },
  { method: 'POST', path: '/api/v1/query-logs', who: 'signed-in-or-token', units: 'self', note: 'record queries: the signed-in person (cookie + CSRF) within their NHI permissions, or a unit-bound service token; all or nothing' },
  { method: 'GET', path: '/api/v1/query-logs', who: 'signed-in', units: 'all', note: 'search scoped by role (visibleUnitsFor); subjectId search spans all for auditor/ethics and is recorded' },
  { method: 'GET', path: '/api/v1/query-logs/:id', who: 'signed-in', units: 'all', note: 'one entry within visibility (visibleUnitsFor: own, subtree, or all by role), subject masked; 404 outside it' },
  { method: 'POST', path: '/api/v1/query-logs/:id/subject', who: ['auditor', 'planning_admin', 'ethics'], units: 'all', note: 'full subject: auditors, planning admins, ethics within their investigations (404 outside them); recorded' },
  { method: 'GET', path: '/api/v1/query-requests', who: 'signed-in', units: 'all', note: 'own forms; supervisors their subtree; auditors and planning all' },
  { method: 'POST', path: '/api/v1/query-requests', who: ['clerk'], units: 'self', note: 'file a query request form' },
  { method: 'POST', path: '/api/v1/query-requests/:id/decision', who: ['supervisor'], units: 'subtree', note: 'approve/reject, never own, same agency' },
  { method: 'GET', path: '/api/v1/service-tokens', who: ADMINS, units: 'subtree' },
  { method: 'POST', path: '/api/v1/service-tokens', who: ADMINS, units: 'subtree', note: 'token shown once; SHA-256 stored' },
  { method: 'POST', path: '/api/v1/service-tokens/:id/revoke', who: ADMINS, units: 'subtree' },
  // Pages
  { method: 'GET', path: '/query-logs/new', who: ['clerk'], units: 'self', note: 'recording page' },
  { method: 'POST', path: '/query-logs/new', who: ['clerk'], units: 'self' },
  { method: 'GET', path: '/query-logs', who: 'signed-in', units: 'all', note: 'list within visibility (visibleUnitsFor)' },
  { method: 'GET', path: '/query-logs/export.xlsx', who: 'signed-in', units: 'all', note: 'export within visibility (visibleUnitsFor); recorded' },
  { method: 'GET', path: '/query-logs/who', who: ['auditor', 'ethics'], units: 'all', note: 'who queried this person? (form)' },
  { method: 'POST', path: '/query-logs/who', who: ['auditor', 'ethics'], units: 'all', note: 'search by subject HMAC; recorded' },
  { method: 'GET', path: '/query-logs/:id', who: 'signed-in', units: 'all', note: 'within visibility (visibleUnitsFor); 404 outside it' },
  { method: 'POST', path: '/query-logs/:id/reveal', who: ['auditor', 'planning_admin', 'ethics'], units: 'all', note: 'full subject (ethics within their investigations, 404 outside them); recorded' },
  { method: 'GET', path: '/query-requests', who: 'signed-in', units: 'all', note: 'own forms; supervisors their subtree; auditors and planning all' },
  { method: 'POST', path: '/query-requests', who: ['clerk'], units: 'self' },
  { method: 'GET', path: '/query-requests/inbox', who: ['supervisor'], units: 'subtree' },
  { method: 'POST', path: '/query-requests/:id/decision', who: ['supervisor'], units: 'subtree' },
  { method: 'GET', path: '/service-tokens', who: ADMINS, units: 'subtree' },
  { method: 'POST', path: '/service-tokens', who: ADMINS, units: 'subtree' },
  { method: 'POST', path: '/service-tokens/:id/revoke', who: ADMINS, units: 'subtree' },
];
