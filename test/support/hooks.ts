// Root hooks: zh-TW validation messages as in the app; every test database is dropped and every
// pool destroyed at the end so mocha exits by itself.
import { configureLocale } from '../../server/web/locale.ts';
import { dropAll } from './db.ts';
import { setClock } from '../../server/time.ts';

configureLocale();

export const mochaHooks = {
  afterEach() {
    setClock(null);
  },
  async afterAll() {
    await dropAll();
  },
};
