import type { Capability } from '../capabilities.ts';

export const queries: Capability = {
  name: 'queries',
};
