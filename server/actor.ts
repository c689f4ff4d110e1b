// The person acting, in one shape for every capability: signed in (routes put it on req.actor,
// loaded from the database on every request) or named by a command. Services take it as their
// first argument after the connection; the event log records its id, account and address.
import type { Role } from './accounts/roles.ts';

export interface Actor {
  id: number;
  account: string;
  /** The unit the person belongs to: reach (accounts/reach.ts) starts here. */
  unitId: number;
  roles: readonly Role[];
  /** The client's address, when acting through the web. */
  ip?: string | null;
}

/** The signed-in person as a request carries it (req.actor), with what pages show of them. */
export interface SignedInActor extends Actor {
  name: string;
  rank: string;
  roles: Role[];
  ip: string | null;
}

/** The server's operator at the command line (reconcile commands): no county account; reaches every agency. */
export interface Operator {
  operator: true;
  id: null;
  account: 'system';
  ip?: null;
}
export const OPERATOR: Operator = { operator: true, id: null, account: 'system' };
export const isOperator = (a: Actor | Operator): a is Operator => 'operator' in a && a.operator === true;
