import type { Capability } from '../capability.ts';
import { access, homePanels, nav, register } from './routes.ts';

/** Alerts to the ethics unit (政風): security events within its reach, as they happen. */
export const alerts: Capability = {
  name: 'alerts',
  access,
  register,
  nav,
  homePanels,
};
