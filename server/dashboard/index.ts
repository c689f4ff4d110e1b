import type { Capability } from '../capability.ts';
import { access, homePanels, nav, register } from './routes.ts';

/** The county dashboard: query volume, risk flags, checks on time, account review, annual filings. */
export const dashboard: Capability = {
  name: 'dashboard',
  access,
  register,
  nav,
  homePanels,
};
