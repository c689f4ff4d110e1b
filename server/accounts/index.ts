// The accounts capability (clause 3): unit tree, layered provisioning through approved requests,
// directory login, job changes, and the periodic account review.
import type { Capability } from '../capabilities.ts';
import { seedDemoUnitsAndUsers } from './demo.ts';
import { access } from './access.ts';
import { register } from './routes.ts';
import { accountReviewJob, passwordExpiryJob } from './review.ts';

export const accounts: Capability = {
  name: 'accounts',
  access,
  register,
  jobs: [accountReviewJob, passwordExpiryJob],
  seedDemo: seedDemoUnitsAndUsers,
};
