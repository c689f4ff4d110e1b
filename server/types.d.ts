import type { Role } from './accounts/roles.ts';

declare global {
  namespace Express {
    /** The signed-in person, loaded from the database on every request. */
    interface Actor {
      id: number;
      account: string;
      name: string;
      unitId: number;
      roles: Role[];
      rank: string;
      ip: string | null;
    }
    interface ServiceToken {
      id: number;
      name: string;
      unitId: number;
      userId: number;
    }
    interface Request {
      actor?: Actor;
      serviceToken?: ServiceToken;
      requestId?: string;
    }
  }
}

declare module 'express-session' {
  interface SessionData {
    userId?: number;
    createdAt?: number;
    csrfToken?: string;
    flash?: { kind: 'ok' | 'error'; text: string };
    /** Lockouts of the account since its previous sign-in (auth capability). */
    notices?: Array<{ at: number; address: string | null; until: number | null }>;
    [key: string]: unknown;
  }
}

export {};
