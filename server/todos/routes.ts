// HTTP for the to-do list: the home-page panel and the same list as JSON.
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { type HomePanel } from '../web/home.ts';
import { eta } from '../web/views.ts';
import { localDate, now, rocDate } from '../time.ts';
import { todosFor } from './service.ts';
import { isOverdue } from './rules.ts';

export const access: AccessEntry[] = [
  { method: 'GET', path: '/api/v1/me/todos', who: 'signed-in', units: 'self', note: "the signed-in person's open duties (待辦事項) with due dates and links" },
];

/** The home page's 待辦事項: each duty with its due date (ROC calendar) and a link. */
const todoPanel: HomePanel = async (c, actor) => {
  const list = await todosFor(c.db, c.cfg, actor);
  const today = localDate(now());
  const items = list.map((t) => ({ ...t, overdue: isOverdue(t, today), dueRoc: t.due ? rocDate(t.due) : null }));
  return { title: '待辦事項', html: eta.render('todos/panel', { items }) };
};


export function register(r: Routes, ctx: AppContext): void {
  r.get('/api/v1/me/todos', async (req, res) => {
    const today = localDate(now());
    const items = (await todosFor(ctx.db, ctx.cfg, req.actor!)).map((t) => ({ kind: t.kind, title: t.title, count: t.count, due: t.due, overdue: isOverdue(t, today), href: t.href }));
    res.json({ items, total: items.length });
  });
}

/** The home-page panels of this part (server/capability.ts `homePanels`). */
export const homePanels: HomePanel[] = [
  todoPanel,
];
