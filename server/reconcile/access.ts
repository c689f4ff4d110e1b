// Access-control inventory of the reconciliation import (issue 16): sources, mappings, account
// links and imports. Unit reach (the planning department county-wide, an agency's admin its own
// agency, auditors and ethics what their office reaches) is enforced in service.ts
// (reconcileReach in rules.ts); what lies outside it answers as if it did not exist.
import type { AccessEntry } from '../web/access.ts';
import { MANAGERS, READERS } from './rules.ts';

export const importAccess: AccessEntry[] = [
  // JSON API
  { method: 'GET', path: '/api/v1/reconcile-sources', who: READERS, units: 'subtree', note: 'reconciliation sources within reach: county-wide ones and the own agency’s, with the latest mapping version' },
  { method: 'POST', path: '/api/v1/reconcile-sources', who: MANAGERS, units: 'subtree', note: 'define a source {code, name, kind: records | counts, complete, unit}: the planning department for any agency or county-wide (no unit), an agency admin for its own agency' },
  { method: 'GET', path: '/api/v1/reconcile-sources/:id', who: READERS, units: 'subtree', note: 'one source with every mapping version; 404 outside reach' },
  { method: 'POST', path: '/api/v1/reconcile-sources/:id', who: MANAGERS, units: 'subtree', note: 'rename a source or change whether it claims to be complete {name, complete}' },
  { method: 'POST', path: '/api/v1/reconcile-sources/:id/mappings', who: MANAGERS, units: 'subtree', note: 'the next mapping version {columns: {account, date, time, subject, opCode, count}, encoding: utf-8 | big5, dateStyle: roc-compact | roc-slash | ad, headerRow}' },
  { method: 'POST', path: '/api/v1/reconcile-sources/:id/preview', who: MANAGERS, units: 'subtree', note: 'multipart/form-data (file, and optionally a draft mapping as fields): the first rows as parsed, subjects masked; nothing stored' },
  { method: 'GET', path: '/api/v1/reconcile-sources/:id/links', who: READERS, units: 'subtree', note: 'each person’s account at the source, people within reach' },
  { method: 'POST', path: '/api/v1/reconcile-sources/:id/links', who: MANAGERS, units: 'subtree', note: 'set a person’s account at the source {account, sourceAccount} (one per person; an earlier one is replaced)' },
  { method: 'POST', path: '/api/v1/source-account-links/:id/remove', who: MANAGERS, units: 'subtree', note: 'remove an account link' },
  { method: 'GET', path: '/api/v1/reconcile-imports', who: READERS, units: 'subtree', note: 'imports within reach (?unit&period&source)' },
  { method: 'POST', path: '/api/v1/reconcile-imports', who: MANAGERS, units: 'subtree', note: 'multipart/form-data (source, unit, period YYYY-MM, file): import a source file for an agency and period, all or nothing; 400 import-refused naming each row, column and reason; 409 duplicate-import; 413 file-too-large' },
  { method: 'POST', path: '/api/v1/reconcile-imports/:id/withdraw', who: MANAGERS, units: 'subtree', note: '{reason}: withdraw an import (records kept, out of matching; the month is reconciled again; a corrected file may then be imported); 404 outside reach, 409 already-withdrawn' },
  { method: 'GET', path: '/api/v1/reconcile-imports/:id', who: READERS, units: 'subtree', note: 'one import: file SHA-256, rows, mapping version, who, records and unknown accounts; 404 outside reach' },
  // Pages
  { method: 'GET', path: '/reconcile/sources', who: READERS, units: 'subtree', note: 'sources list and the form to define one' },
  { method: 'POST', path: '/reconcile/sources', who: MANAGERS, units: 'subtree', note: 'define a source' },
  { method: 'GET', path: '/reconcile/sources/:id', who: READERS, units: 'subtree', note: 'a source: settings, mapping versions, preview, account links, unlinked accounts' },
  { method: 'POST', path: '/reconcile/sources/:id', who: MANAGERS, units: 'subtree', note: 'source settings form' },
  { method: 'POST', path: '/reconcile/sources/:id/mappings', who: MANAGERS, units: 'subtree', note: 'mapping form (a new version)' },
  { method: 'POST', path: '/reconcile/sources/:id/preview', who: MANAGERS, units: 'subtree', note: 'preview form (multipart, a file); nothing stored' },
  { method: 'POST', path: '/reconcile/sources/:id/links', who: MANAGERS, units: 'subtree', note: 'account link form' },
  { method: 'POST', path: '/reconcile/links/:id/remove', who: MANAGERS, units: 'subtree', note: 'remove an account link' },
  { method: 'GET', path: '/reconcile/imports', who: READERS, units: 'subtree', note: 'imports list and the upload form' },
  { method: 'POST', path: '/reconcile/imports', who: MANAGERS, units: 'subtree', note: 'upload form (multipart); a refused file re-shows the form with each row, column and reason' },
  { method: 'GET', path: '/reconcile/imports/report.xlsx', who: MANAGERS, units: 'self', note: 'the caller’s last refused import as a workbook (row, column, reason), from the session; no identifier in it' },
  { method: 'POST', path: '/reconcile/imports/:id/withdraw', who: MANAGERS, units: 'subtree', note: 'withdraw form (reason), as POST /api/v1/reconcile-imports/:id/withdraw' },
  { method: 'GET', path: '/reconcile/imports/:id', who: READERS, units: 'subtree', note: 'one import; 404 outside reach' },
];
