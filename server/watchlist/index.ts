import type { Capability } from '../capability.ts';
import { access, nav, register } from './routes.ts';

/** The ethics unit's watch list (issue 18): HMAC-only identifiers whose queries alert ethics and flag the monthly sample. */
export const watchlist: Capability = {
  name: 'watchlist',
  access,
  register,
  nav,
};
