import type { Capability } from '../capabilities.ts';
import { seedDemoUnitsAndUsers } from './demo.ts';

export const accounts: Capability = {
  name: 'accounts',
  seedDemo: seedDemoUnitsAndUsers,
};
