// The to-do list (待辦事項, issue 18): every open duty of one person, derived from the records each
// time (nothing stored, so it is always true), with its due date and the page where it is done.
// Each duty is read through the capability that owns it, in a fixed number of queries whatever
// the data's size: one or two per kind of duty, and only for the roles that carry it.
import type { Db } from '../db.ts';
import type { Config } from '../config.ts';
import type { Role } from '../accounts/roles.ts';
import { allUnits, agencyIn, subtreeOf } from '../accounts/units.ts';
import { canManageUser, isAdmin } from '../accounts/delegation.ts';
import * as accountsRepo from '../accounts/repo.ts';
import { pendingCounts } from '../accounts/service.ts';
import { pendingApprovals } from '../queries/service.ts';
import * as checksRepo from '../checks/repo.ts';
import { explanationsFor } from '../checks/service.ts';
import * as auditsRepo from '../audits/repo.ts';
import { awaitingMe } from '../destruction/service.ts';
import { addDays, localDate, now, rocMonth, rocPeriod } from '../time.ts';
import * as repo from './repo.ts';
import {
  AUDIT_LEAD_DAYS, LINK_REVIEW_LEAD_DAYS, SOON_DAYS, TODO_LABELS, checkDueDate, filingDueDate, halfDueDate, halfOfDate, passwordDueDate, previousHalf, shownFrom, sortTodos,
  type Todo,
} from './rules.ts';
import type { Actor } from '../actor.ts';


export type TodoSettings = Pick<Config, 'PASSWORD_MAX_AGE_DAYS'>;

const has = (p: Actor, ...roles: string[]): boolean => p.roles.some((r) => roles.includes(r));

/** Every open duty of the person, most urgent first. */
export async function todosFor(db: Db, cfg: TodoSettings, person: Actor, at = now()): Promise<Todo[]> {
  const today = localDate(at);
  const out: Todo[] = [];
  const add = (t: Omit<Todo, 'title'> & { title?: string }) => out.push({ ...t, title: t.title ?? TODO_LABELS[t.kind] });
  const who = { id: person.id, account: person.account, unitId: person.unitId, roles: [...person.roles] as Role[], ip: null };
  const units = await allUnits(db);
  const unit = units.find((u) => Number(u.id) === Number(person.unitId));
  const agency = agencyIn(units, person.unitId);

  // 4(一)1: query request forms awaiting the supervisor's approval (no deadline in the rules).
  if (has(person, 'supervisor')) {
    const n = await pendingApprovals(db, who);
    if (n) add({ kind: 'query-request', count: n, due: null, href: '/query-requests/inbox', ref: 'inbox' });
  }
  // 3(二)1(1), 3(二)2: account requests to approve or carry out, account-review findings to decide.
  if (has(person, 'supervisor') || isAdmin(who)) {
    const c = await pendingCounts(db, who);
    if (c.inbox) add({ kind: 'account-request', count: c.inbox, due: null, href: '/accounts/approvals', ref: 'inbox' });
    if (c.todo) add({ kind: 'account-execute', count: c.todo, due: null, href: '/accounts/todo', ref: 'todo' });
    if (c.reviewItems) add({ kind: 'review-items', count: c.reviewItems, due: null, href: '/accounts/reviews', ref: 'open' });
  }
  // 3(二)1(6)(7): scheduled disables in the admin's subtree falling due within SOON_DAYS.
  if (isAdmin(who)) {
    // Only accounts this admin manages (the delegation layers): the planning department's admins are not told of every clerk's.
    const soon = (await accountsRepo.disablesDue(db, subtreeOf(units, person.unitId), addDays(today, SOON_DAYS))).filter((u) => u.disable_on >= today);
    const world = soon.length ? await accountsRepo.loadWorld(db) : null;
    const roles = soon.length ? await accountsRepo.rolesFor(db, soon.map((u) => Number(u.id))) : new Map<number, string[]>();
    const due = soon.filter((u) => canManageUser(world!, who, { id: Number(u.id), unitId: Number(u.unit_id), roles: (roles.get(Number(u.id)) ?? []) as Role[] }));
    if (due.length) add({ kind: 'disable-due', count: due.length, due: due[0].disable_on, href: '/accounts/users', ref: due[0].disable_on });
  }
  // 5(一): items to judge and checks to sign off, by the end of the month after the checked month.
  const toJudge = await checksRepo.itemsToJudge(db, person.id);
  for (const r of toJudge) add({ kind: 'check-items', title: `判定${rocMonth(r.period)}查核之抽查項目`, count: Number(r.n), due: checkDueDate(r.period), href: `/checks/${r.check_id}`, ref: String(r.check_id) });
  for (const c of await checksRepo.openChecksOf(db, person.id)) {
    if (Number(c.unsettled) === 0) add({ kind: 'check-sign-off', title: `簽核${rocMonth(c.period)}查核`, count: 1, due: checkDueDate(c.period), href: `/checks/${c.id}`, ref: String(c.id) });
  }
  // 5(一)(二): explanations asked of the person who made the query (unlogged ones from reconciliation apart).
  const asked = (await explanationsFor(db, person.id)).filter((x: any) => x.explained_at == null);
  for (const unlogged of [false, true]) {
    const mine = asked.filter((x: any) => !!x.unlogged === unlogged);
    if (!mine.length) continue;
    const due = mine.map((x: any) => checkDueDate(x.period)).sort()[0];
    add({ kind: unlogged ? 'unlogged-explanation' : 'explanation', count: mine.length, due, href: '/explanations', ref: unlogged ? 'unlogged' : 'logged' });
  }
  // 5(二): open investigations the person takes part in (concluded with an audit record; no deadline).
  const inv = await checksRepo.openInvestigationsOf(db, person.id);
  for (const v of inv) add({ kind: 'investigation', title: `參與異常調查（第 ${v.id} 號）`, count: 1, due: null, href: `/investigations/${v.id}`, ref: String(v.id) });
  // 5(三): the agency's half-yearly internal audit, for its auditors: the current half from
  // AUDIT_LEAD_DAYS before its end, and the previous half while it is not signed (overdue).
  if (has(person, 'auditor') && agency && unit?.kind !== 'planning') {
    const current = halfOfDate(today);
    const periods = [previousHalf(current), current].filter((p) => shownFrom(halfDueDate(p), today, AUDIT_LEAD_DAYS));
    const signed = new Set((await auditsRepo.auditsOfPeriods(db, [agency.id], periods)).filter((a) => a.status === 'signed').map((a) => a.period));
    for (const p of periods.filter((x) => !signed.has(x))) {
      add({ kind: 'internal-audit', title: `辦理 ${rocPeriod(p)}內部稽核`, count: 1, due: halfDueDate(p), href: '/audits', ref: p });
    }
  }
  // Duties of the agency's admin: the yearly link review (4(二)3) and the annual filing (5(五)).
  if (has(person, 'admin') && unit?.kind === 'agency') {
    const year = Number(today.slice(0, 4));
    const due = `${year}-12-31`;
    if (shownFrom(due, today, LINK_REVIEW_LEAD_DAYS)) {
      const [row] = await auditsRepo.unreviewedLinks(db, [unit.id], year);
      if (row && Number(row.n)) add({ kind: 'link-review', count: Number(row.n), due, href: '/audits/links', ref: String(year) });
    }
  }
  if (has(person, 'admin', 'auditor') && unit?.kind === 'agency') {
    // From 1 January the previous year's filing is due by the end of the month; shown until filed.
    const year = Number(today.slice(0, 4)) - 1;
    const filed = (await auditsRepo.filingsOfYear(db, year)).some((f: any) => Number(f.unit_id) === Number(unit.id));
    if (!filed) add({ kind: 'filing', title: `${year - 1911} 年度報府備查`, count: 1, due: filingDueDate(year), href: '/audits/annual', ref: String(year) });
  }
  // The planning department acknowledges the filings it received.
  if (has(person, 'planning_admin')) {
    const year = Number(today.slice(0, 4)) - 1;
    const waiting = (await auditsRepo.filingsOfYear(db, year)).filter((f: any) => f.acknowledged_at == null).length;
    if (waiting) add({ kind: 'filing-acknowledge', count: waiting, due: null, href: '/audits/annual', ref: String(year) });
  }
  // 4(二): destruction lists awaiting an approval this person could give (planning and ethics).
  if (has(person, 'planning_admin', 'ethics')) {
    const n = await awaitingMe(db, who);
    if (n) add({ kind: 'destruction', count: n, due: null, href: '/destructions', ref: 'awaiting' });
  }
  // 3(二)1(5): the person's own password, within SOON_DAYS of its maximum age.
  const own = await repo.ownPassword(db, person.id);
  if (own && own.auth_source === 'local' && own.password_changed_at != null) {
    const due = passwordDueDate(Number(own.password_changed_at), cfg.PASSWORD_MAX_AGE_DAYS);
    if (due <= addDays(today, SOON_DAYS)) add({ kind: 'password-expiry', count: 1, due, href: '/password', ref: due });
  }
  return sortTodos(out);
}
