// Access-control inventory of the queries capability (clause 4(一)). Unit reach is enforced in
// service.ts (visibleUnitsFor, request-form decider rules, token reach).
import type { AccessEntry } from '../web/access.ts';
import { REVEALING_ROLES } from './rules.ts';

const ADMINS = ['admin', 'planning_admin'] as const;
// Searching by a person's identifier is reveal-class: the revealing roles (rules.REVEALING_ROLES).
const SEARCHERS = REVEALING_ROLES;

export const access: AccessEntry[] = [
  // JSON API
  { method: 'GET', path: '/api/v1/openapi.json', who: 'public', units: 'none', note: 'OpenAPI 3.1 description of /api/v1' },
  { method: 'POST', path: '/api/v1/query-logs', who: 'signed-in-or-token', units: 'self', note: 'record queries: the signed-in person (cookie + CSRF) within their NHI permissions, or a unit-bound service token; all or nothing' },
  { method: 'GET', path: '/api/v1/query-logs', who: 'signed-in', units: 'subtree', note: 'search within visibility (visibleUnitsFor: need to know); a subject identifier is refused here (400): that search is POST /search' },
  { method: 'POST', path: '/api/v1/query-logs/search', who: SEARCHERS, units: 'subtree', note: 'who queried this person: reveal-class, with a stated purpose, within what the caller may reveal, recorded, throttled per account (429 and an alert to ethics)' },
  { method: 'GET', path: '/api/v1/query-logs/:id', who: 'signed-in', units: 'subtree', note: 'one entry within visibility (visibleUnitsFor: own, subtree, or all by role), subject masked; 404 outside it' },
  { method: 'POST', path: '/api/v1/query-logs/:id/subject', who: REVEALING_ROLES, units: 'subtree', note: 'full subject: auditors and planning admins within reach, ethics within their investigations (404 outside what they see); recorded' },
  { method: 'GET', path: '/api/v1/query-requests', who: 'signed-in', units: 'all', note: 'own forms; supervisors their subtree; auditors and planning all' },
  { method: 'POST', path: '/api/v1/query-requests', who: ['clerk'], units: 'self', note: 'file a query request form' },
  { method: 'POST', path: '/api/v1/query-requests/:id/decision', who: ['supervisor'], units: 'subtree', note: 'approve/reject, never own, same agency' },
  { method: 'GET', path: '/api/v1/service-tokens', who: ADMINS, units: 'subtree' },
  { method: 'POST', path: '/api/v1/service-tokens', who: ADMINS, units: 'subtree', note: 'token shown once; SHA-256 stored' },
  { method: 'POST', path: '/api/v1/service-tokens/:id/revoke', who: ADMINS, units: 'subtree' },
  // Pages
  { method: 'GET', path: '/query-logs/new', who: ['clerk'], units: 'self', note: 'recording page' },
  { method: 'POST', path: '/query-logs/new', who: ['clerk'], units: 'self' },
  { method: 'GET', path: '/query-logs', who: 'signed-in', units: 'subtree', note: 'list within visibility (visibleUnitsFor)' },
  { method: 'GET', path: '/query-logs/export.xlsx', who: 'signed-in', units: 'subtree', note: 'export within visibility (visibleUnitsFor); no subject filter; recorded' },
  { method: 'GET', path: '/query-logs/who', who: SEARCHERS, units: 'subtree', note: 'who queried this person? (form)' },
  { method: 'POST', path: '/query-logs/who', who: SEARCHERS, units: 'subtree', note: 'search by subject HMAC with a stated purpose, as POST /api/v1/query-logs/search' },
  { method: 'GET', path: '/query-logs/:id', who: 'signed-in', units: 'subtree', note: 'within visibility (visibleUnitsFor); 404 outside it' },
  { method: 'POST', path: '/query-logs/:id/reveal', who: REVEALING_ROLES, units: 'subtree', note: 'full subject, as POST /api/v1/query-logs/:id/subject; recorded' },
  { method: 'GET', path: '/query-requests', who: 'signed-in', units: 'all', note: 'own forms; supervisors their subtree; auditors and planning all' },
  { method: 'POST', path: '/query-requests', who: ['clerk'], units: 'self' },
  { method: 'GET', path: '/query-requests/inbox', who: ['supervisor'], units: 'subtree' },
  { method: 'POST', path: '/query-requests/:id/decision', who: ['supervisor'], units: 'subtree' },
  { method: 'GET', path: '/service-tokens', who: ADMINS, units: 'subtree' },
  { method: 'POST', path: '/service-tokens', who: ADMINS, units: 'subtree' },
  { method: 'POST', path: '/service-tokens/:id/revoke', who: ADMINS, units: 'subtree' },
];
