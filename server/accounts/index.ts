// The accounts capability (clause 3): unit tree, layered provisioning through approved requests,
// directory login, job changes, and the periodic account review.
import type { Capability } from '../capability.ts';
import { seedDemoUnitsAndUsers } from './demo.ts';
import { access } from './access.ts';
import { homePanels, nav, register } from './routes.ts';
import { accountReviewJob, passwordExpiryJob } from './review.ts';

export const accounts: Capability = {
  name: 'accounts',
  access,
  register,
  nav,
  homePanels,
  jobs: [accountReviewJob, passwordExpiryJob],
  seedDemo: seedDemoUnitsAndUsers,
};
