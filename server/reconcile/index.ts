// Reconciliation capability (issue 16): the source systems' own records of the queries made there,
// imported per agency and period (sources, mappings, account links, imports), and matched against
// the query log so a query that was never logged is found (clause 5; 3(二)1(4) for unknown accounts).
import type { Capability } from '../capability.ts';
import { access, nav, register } from './routes.ts';
import { importCommands } from './cli.ts';
import { seedReconcileDemo } from './demo.ts';
import { registerResults, resultsAccess, resultsNav, runCommand } from './results-routes.ts';

export const reconcile: Capability = {
  name: 'reconcile',
  // The import half (routes.ts) and the matching results (results-routes.ts).
  access: [...access, ...resultsAccess],
  nav: [...nav, ...resultsNav],
  register(r, ctx) {
    register(r, ctx);
    registerResults(r, ctx);
  },
  commands: [...importCommands, runCommand],
  seedDemo: seedReconcileDemo,
};
