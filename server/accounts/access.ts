// Access-control inventory of the accounts capability (clause 3). The audience is checked by the
// guard; the unit reach (own subtree, delegation layer) is enforced in service.ts/delegation.ts.
import type { AccessEntry } from '../web/access.ts';
import type { Role } from './roles.ts';

export const ADMINS: readonly Role[] = ['planning_admin', 'admin'];
export const FILERS: readonly Role[] = ['planning_admin', 'admin', 'supervisor'];
export const READERS: readonly Role[] = ['planning_admin', 'admin', 'supervisor', 'auditor', 'ethics', 'it'];
export const REVIEW_READERS: readonly Role[] = ['planning_admin', 'admin', 'auditor'];

export const access: AccessEntry[] = [
  // JSON API
  { method: 'GET', path: '/api/v1/units', who: 'signed-in', units: 'all', note: 'the unit tree with each agency\'s authorised scopes' },
  { method: 'POST', path: '/api/v1/units', who: ADMINS, units: 'subtree', note: 'planning admin anywhere; admin below its own unit' },
  { method: 'POST', path: '/api/v1/units/:id', who: ADMINS, units: 'subtree', note: 'rename, move, sections, close' },
  { method: 'POST', path: '/api/v1/units/:id/scopes', who: ['planning_admin'], units: 'all', note: 'agency × scope authorisations' },
  { method: 'GET', path: '/api/v1/users', who: READERS, units: 'subtree' },
  { method: 'GET', path: '/api/v1/users/:id', who: READERS, units: 'subtree' },
  { method: 'POST', path: '/api/v1/users', who: ADMINS, units: 'subtree', note: 'carries out an approved new-account request; answers the activation code once' },
  { method: 'POST', path: '/api/v1/users/:id/unlock', who: ADMINS, units: 'subtree', note: 'delegation layer' },
  { method: 'POST', path: '/api/v1/users/:id/activation', who: ADMINS, units: 'subtree', note: 'new activation code for a pending account' },
  { method: 'GET', path: '/api/v1/account-requests', who: FILERS, units: 'subtree' },
  { method: 'GET', path: '/api/v1/account-requests/:id', who: FILERS, units: 'subtree' },
  { method: 'POST', path: '/api/v1/account-requests', who: FILERS, units: 'subtree' },
  { method: 'POST', path: '/api/v1/account-requests/:id/decision', who: ['supervisor'], units: 'subtree', note: 'responsible supervisor; never the requester' },
  { method: 'POST', path: '/api/v1/account-requests/:id/execute', who: ADMINS, units: 'subtree', note: 'delegation layer' },
  { method: 'GET', path: '/api/v1/account-reviews', who: REVIEW_READERS, units: 'all' },
  { method: 'GET', path: '/api/v1/account-reviews/:id', who: REVIEW_READERS, units: 'subtree' },
  { method: 'POST', path: '/api/v1/account-reviews', who: ADMINS, units: 'all', note: 'runs the account review on demand' },
  { method: 'GET', path: '/api/v1/review-items', who: REVIEW_READERS, units: 'subtree' },
  { method: 'POST', path: '/api/v1/review-items/:id/decision', who: ADMINS, units: 'subtree', note: 'the admin responsible for the account' },
  // Pages
  { method: 'GET', path: '/accounts/me', who: 'signed-in', units: 'self', note: 'my account' },
  { method: 'GET', path: '/accounts/units', who: READERS, units: 'all' },
  { method: 'POST', path: '/accounts/units', who: ADMINS, units: 'subtree' },
  { method: 'POST', path: '/accounts/units/:id', who: ADMINS, units: 'subtree' },
  { method: 'POST', path: '/accounts/units/:id/scopes', who: ['planning_admin'], units: 'all' },
  { method: 'GET', path: '/accounts/users', who: READERS, units: 'subtree' },
  { method: 'GET', path: '/accounts/users/:id', who: READERS, units: 'subtree' },
  { method: 'POST', path: '/accounts/users/:id/unlock', who: ADMINS, units: 'subtree' },
  { method: 'POST', path: '/accounts/users/:id/activation', who: ADMINS, units: 'subtree' },
  { method: 'GET', path: '/accounts/requests', who: FILERS, units: 'subtree' },
  { method: 'GET', path: '/accounts/requests/new', who: FILERS, units: 'subtree' },
  { method: 'POST', path: '/accounts/requests', who: FILERS, units: 'subtree' },
  { method: 'GET', path: '/accounts/requests/:id', who: FILERS, units: 'subtree' },
  { method: 'POST', path: '/accounts/requests/:id/decision', who: ['supervisor'], units: 'subtree' },
  { method: 'POST', path: '/accounts/requests/:id/execute', who: ADMINS, units: 'subtree' },
  { method: 'GET', path: '/accounts/approvals', who: ['supervisor'], units: 'subtree', note: 'supervisor\'s approval inbox' },
  { method: 'GET', path: '/accounts/todo', who: ADMINS, units: 'subtree', note: 'admin\'s to-do list' },
  { method: 'GET', path: '/accounts/reviews', who: REVIEW_READERS, units: 'subtree' },
  { method: 'GET', path: '/accounts/reviews/:id', who: REVIEW_READERS, units: 'subtree' },
  { method: 'POST', path: '/accounts/reviews', who: ADMINS, units: 'all' },
  { method: 'POST', path: '/accounts/review-items/:id/decision', who: ADMINS, units: 'subtree' },
];
