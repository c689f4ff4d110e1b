import type { SignedInActor } from './actor.ts';

declare global {
  namespace Express {
    interface ServiceToken {
      id: number;
      name: string;
      unitId: number;
      userId: number;
    }
    interface Request {
      actor?: SignedInActor;
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
    /** Sign-in proved the password of an account that must change it (auth routes, short-lived, one use). */
    passwordProof?: { userId: number; account: string; at: number };
    [key: string]: unknown;
  }
}

export {};
