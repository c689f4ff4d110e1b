// Reconciliation capability (issue 16): the source systems' own records of the queries made there,
// imported per agency and period (sources, mappings, account links, imports), and matched against
// the query log so a query that was never logged is found (clause 5; 3(二)1(4) for unknown accounts).
import type { Capability } from '../capabilities.ts';
import { access, register } from './routes.ts';
import { importCommands } from './cli.ts';
import { seedReconcileDemo } from './demo.ts';
import { registerResults, resultsAccess, runCommand } from './results-routes.ts';

export const reconcile: Capability = {
  name: 'reconcile',
  // The import half (routes.ts) and the matching results (results-routes.ts).
  access: [...access, ...resultsAccess],
  register(r, ctx) {
    register(r, ctx);
    registerResults(r, ctx);
  },
  commands: [...importCommands, runCommand],
  seedDemo: seedReconcileDemo,
};
