import type { Config } from './config.ts';
import type { Db } from './db.ts';
import type { DbSessionStore } from './web/session-store.ts';

/** What routes and jobs need: configuration, database, session store. */
export interface AppContext {
  cfg: Config;
  db: Db;
  sessions: DbSessionStore;
}
