import type { Capability } from '../capabilities.ts';

export const audits: Capability = {
  name: 'audits',
};
