// The integrity capability (issue 15): what the ethics unit (政風) sees of the log's proofs — the
// checkpoint key, the signed checkpoints and the witness files kept apart from the database.
import type { Capability } from '../capability.ts';
import { access, nav, register } from './routes.ts';

export const integrity: Capability = {
  name: 'integrity',
  access,
  register,
  nav,
};
