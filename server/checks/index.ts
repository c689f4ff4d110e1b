import type { Capability } from '../capabilities.ts';

export const checks: Capability = {
  name: 'checks',
};
