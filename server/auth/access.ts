import type { AccessEntry } from '../web/access.ts';

export const access: AccessEntry[] = [
  { method: 'GET', path: '/login', who: 'public', units: 'none' },
  { method: 'POST', path: '/login', who: 'public', units: 'none', note: 'CSRF-protected form' },
  { method: 'POST', path: '/logout', who: 'signed-in', units: 'self' },
  { method: 'GET', path: '/password', who: 'public', units: 'self', note: 'change password; expired passwords too' },
  { method: 'POST', path: '/password', who: 'public', units: 'self', note: 'needs current password' },
  { method: 'POST', path: '/api/v1/auth/login', who: 'public', units: 'none', note: 'CSRF-exempt: no session yet' },
  { method: 'POST', path: '/api/v1/auth/logout', who: 'signed-in', units: 'self' },
  { method: 'POST', path: '/api/v1/auth/logout-all', who: 'signed-in', units: 'self', note: 'ends every session of the account' },
  { method: 'POST', path: '/logout-all', who: 'signed-in', units: 'self', note: 'ends every session of the account' },
  { method: 'POST', path: '/api/v1/auth/password', who: 'public', units: 'self', note: 'CSRF-exempt: needs current password, no session' },
  { method: 'GET', path: '/api/v1/me', who: 'signed-in', units: 'self' },
];
