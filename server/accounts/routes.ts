// HTTP for accounts: parse, call the service, answer JSON or render a page. Authorisation beyond
// the audience (subtree, delegation layer, no self-approval) is decided in the service.
import { REQUEST_STATUS_LABELS, USER_STATUS_LABELS } from '../labels.ts';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { Routes } from '../web/access.ts';
import { parseOr400, fieldErrors, notFound, Problem } from '../problem.ts';
import { idParam, formErrors } from '../web/validate.ts';
import { renderPage, type NavEntry } from '../web/views.ts';
import { type HomePanel } from '../web/home.ts';
import { iso, localDate, now } from '../time.ts';
import { runJob } from '../../jobs/runner.ts';
import { permissionsOf } from '../auth/permissions.ts';
import { lockoutAlerts, LOCKOUT_ALERT_DAYS } from '../auth/service.ts';
import { RANKS, RANK_LABELS, ROLES, ROLE_LABELS } from './roles.ts';
import { ADMINS, FILERS, READERS, REVIEW_READERS } from './access.ts';
import * as svc from './service.ts';
import { reminderPreferenceOf } from '../mail/outbox.ts';
import { isAddress } from '../mail/rules.ts';
import { accountReviewJob, accountsWithoutEmail, assertReviewItemVisible, decideReviewItem, FINDING_LABELS, listReviewItems, listReviewRuns, type ReviewJobContext } from './review.ts';
import type { SignedInActor } from '../actor.ts';
import type { Actor } from '../actor.ts';

/** The signed-in person (req.actor is already the one Actor shape, with the request's address). */
const who = (req: Request): Actor => req.actor!;
/** The row id in the path (web/validate.ts idParam: the one parser). */
const idOf = (req: Request): number => idParam(req.params.id);
const paging = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional(), offset: z.coerce.number().int().min(0).optional() });

const perm = z.object({ scope: z.string().trim().min(1).max(16), opCode: z.string().trim().min(1).max(16) });
const person = z.object({
  account: z.string().trim().regex(/^[A-Za-z0-9._-]{3,64}$/, '帳號為 3–64 個英文字母、數字或 . _ -'),
  name: z.string().trim().min(1, '請填寫姓名').max(100, '姓名過長'),
  rank: z.enum(RANKS, { message: '請選擇職級' }),
  title: z.string().trim().max(100).optional(),
  email: z.union([z.literal(''), z.email('電子郵件格式不正確')]).optional(),
  phone: z.string().trim().max(50).optional(),
  authSource: z.enum(['local', 'ldap']).default('local'),
  personId: z.string().trim().max(20).optional(),
});
const requestBody = z.object({
  kind: z.enum(svc.REQUEST_KINDS, { message: '申請類別應為 new、change、disable 或 handover' }),
  reason: z.string().trim().min(2, '請填寫申請事由').max(1000, '申請事由過長'),
  unit: z.string().trim().max(32).optional(),
  userId: z.coerce.number().int().positive().optional(),
  person: person.optional(),
  roles: z.array(z.string().max(24)).max(10).optional(),
  permissions: z.array(perm).max(500).optional(),
  rank: z.enum(RANKS).optional(),
  disableOn: z.string().trim().max(10).optional(),
});
const decisionBody = z.object({ decision: z.enum(['approve', 'reject'], { message: '請選擇核可或駁回' }), reason: z.string().trim().min(2, '請填寫核定理由').max(1000) });
const reviewDecisionBody = z.object({ decision: z.enum(['keep', 'disable'], { message: '請選擇保留或停用' }), reason: z.string().trim().min(2, '請填寫理由').max(1000) });
const unitCreate = z.object({
  code: z.string().trim().regex(/^[A-Z0-9][A-Z0-9-]{1,31}$/, '單位代碼為 2–32 個大寫英文字母、數字或 -'),
  name: z.string().trim().min(2, '請填寫單位名稱').max(100),
  parent: z.string().trim().min(1, '請選擇上級單位').max(32),
  hasSections: z.coerce.boolean().default(true),
});
const unitUpdate = z.object({
  name: z.string().trim().min(2, '請填寫單位名稱').max(100).optional(),
  parent: z.string().trim().min(1).max(32).optional(),
  hasSections: z.boolean().optional(),
  close: z.boolean().optional(),
});
const scopesBody = z.object({ scopes: z.array(z.string().trim().max(16)).max(20) });

const arr = (v: unknown): string[] => (v == null ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
const opt = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/** The request form's fields → the API's body shape (one schema for both). */
function formToRequest(b: Record<string, unknown>) {
  const kind = b.kind;
  const hasPerson = kind === 'new' || kind === 'handover';
  return {
    kind, reason: b.reason, unit: opt(b.unit), userId: opt(b.userId), rank: kind === 'change' ? opt(b.rank) : undefined, disableOn: opt(b.disableOn),
    roles: kind === 'new' || kind === 'change' ? arr(b.roles) : undefined,
    permissions: kind === 'new' || kind === 'change' ? arr(b.perms).map((p) => ({ scope: p.split('/')[0] ?? '', opCode: p.split('/')[1] ?? '' })) : undefined,
    person: hasPerson ? { account: b.account, name: b.name, rank: b.personRank, title: opt(b.title), email: opt(b.email), phone: opt(b.phone), authSource: b.authSource === 'ldap' ? 'ldap' : 'local', personId: opt(b.personId) } : undefined,
  };
}

/** A mistake the person can correct on the page (bad input, a state conflict), not a refusal. */
const correctable = (e: unknown): e is Problem => e instanceof Problem && (e.status === 400 || e.status === 409 || e.status === 423);

/**
 * Runs a page action and goes back with its message. A refusal that names fields (bad input) is
 * re-shown by `reshow`, when the page has one, with what was typed and each message beside its
 * field; any other refusal (already decided, not allowed) goes back with the message, as the page
 * has changed under the form.
 */
async function act(req: Request, res: Response, back: string, fn: () => Promise<string>, reshow?: (errors: Record<string, string>) => Promise<void>): Promise<void> {
  try {
    req.session.flash = { kind: 'ok', text: await fn() };
  } catch (e) {
    if (!correctable(e)) throw e;
    if (reshow && e.status === 400 && e.errors.length) return reshow(formErrors(e));
    req.session.flash = { kind: 'error', text: e.errors.length ? e.errors.map((x) => x.message).join(' ') : e.detail ?? e.title };
  }
  res.redirect(303, back);
}

function requestJson(v: svc.AccountRequestView) {
  return {
    id: v.id, kind: v.kind, status: v.status, unit: v.unit.code, targetUser: v.targetUser ? { id: v.targetUser.id, account: v.targetUser.account } : null,
    account: v.payload.account ?? null, roles: v.payload.roles ?? null, permissions: v.payload.permissions ?? null, disableOn: v.payload.disableOn ?? null,
    reason: v.reason, requestedBy: v.requestedBy.account, requestedAt: iso(v.requestedAt), decidedAt: iso(v.decidedAt), executedAt: iso(v.executedAt), resultUserId: v.resultUserId,
    canDecide: v.canDecide, canExecute: v.canExecute,
    ...(v.steps ? { steps: v.steps.map((s) => ({ step: s.step, actor: s.actor, at: iso(s.at), note: s.note })) } : {}),
  };
}
function userJson(u: svc.UserView) {
  return { id: u.id, account: u.account, name: u.name, unit: u.unit.code, rank: u.rank, title: u.title, roles: u.roles, authSource: u.authSource, status: u.status, disableOn: u.disableOn, lastLoginAt: iso(u.lastLoginAt), locked: u.locked };
}

/** Home-page panel: requests awaiting my approval, approved ones to carry out, open review items. */
const homePanel = async (c: AppContext, actor: SignedInActor) => {
  if (!actor.roles.some((x) => (ADMINS as readonly string[]).includes(x) || x === 'supervisor')) return null;
  const n = await svc.pendingCounts(c.db, actor);
  const items: Array<{ label: string; value: number; href: string }> = [];
  if (actor.roles.includes('supervisor')) items.push({ label: '待核定帳號申請', value: n.inbox, href: '/accounts/approvals' });
  if (actor.roles.some((x) => (ADMINS as readonly string[]).includes(x))) {
    items.push({ label: '待配賦帳號申請', value: n.todo, href: '/accounts/todo' });
    items.push({ label: '待決定清查項目', value: n.reviewItems, href: '/accounts/reviews' });
  }
  return { title: '帳號管理待辦', items };
};

/** The menu entries of this part (server/capability.ts `nav`). */
export const nav: NavEntry[] = [
  { href: '/accounts/requests', label: '帳號申請', roles: FILERS, order: 60 },
  { href: '/accounts/approvals', label: '帳號申請核定', roles: ['supervisor'], order: 61 },
  { href: '/accounts/todo', label: '帳號配賦', roles: ADMINS, order: 62 },
  { href: '/accounts/users', label: '帳號清冊', roles: READERS, order: 63 },
  { href: '/accounts/units', label: '單位', roles: READERS, order: 64 },
  { href: '/accounts/reviews', label: '帳號清查', roles: REVIEW_READERS, order: 65 },
  { href: '/accounts/me', label: '我的帳號', roles: 'signed-in', order: 90 },
];

export function register(r: Routes, ctx: AppContext): void {
  const { db, cfg } = ctx;

  // ---------------------------------------------------------------- JSON API
  r.get('/api/v1/units', async (_req, res) => {
    const items = await svc.listUnits(db);
    const codes = new Map(items.map((u) => [u.id, u.code]));
    res.json({ items: items.map((u) => ({ id: u.id, code: u.code, name: u.name, kind: u.kind, parent: u.parentId ? codes.get(u.parentId) : null, parentId: u.parentId, hasSections: u.hasSections, status: u.status, scopes: u.scopes })), total: items.length });
  });
  r.post('/api/v1/units', async (req, res) => {
    const id = await svc.createUnit(db, who(req), parseOr400(unitCreate, req.body));
    res.status(201).json({ id });
  });
  r.post('/api/v1/units/:id', async (req, res) => {
    await svc.updateUnit(db, who(req), idOf(req), parseOr400(unitUpdate, req.body));
    res.status(204).end();
  });
  r.post('/api/v1/units/:id/scopes', async (req, res) => {
    res.json(await svc.setUnitScopes(db, who(req), idOf(req), parseOr400(scopesBody, req.body).scopes));
  });
  r.get('/api/v1/users', async (req, res) => {
    const q = parseOr400(paging.extend({ unit: z.string().max(32).optional(), status: z.enum(['pending', 'active', 'disabled']).optional(), q: z.string().max(64).optional() }), req.query);
    const out = await svc.listUsers(db, who(req), q);
    res.json({ items: out.items.map(userJson), total: out.total });
  });
  r.get('/api/v1/users/:id', async (req, res) => {
    const d = await svc.getUser(db, who(req), idOf(req));
    res.json({ ...userJson(d.user), permissions: d.permissions, requests: d.requests.map((x: any) => ({ id: x.id, kind: x.kind, status: x.status, requestedAt: iso(x.requested_at) })) });
  });
  r.post('/api/v1/users', async (req, res) => {
    const { requestId } = parseOr400(z.object({ requestId: z.coerce.number().int().positive({ message: '請指定已核可的帳號申請 (requestId)' }) }), req.body);
    const got = await svc.getAccountRequest(db, who(req), requestId);
    if (got.kind !== 'new') throw new Problem(400, 'validation', 'Validation failed', '此申請不是帳號新增申請。', [{ field: 'requestId', message: '此申請不是帳號新增申請。' }]);
    const out = await svc.executeAccountRequest(db, cfg, who(req), requestId);
    res.set('Cache-Control', 'no-store').status(201).json({ id: out.userId, account: out.account, requestId, activationCode: out.activationCode ?? null, activationExpiresAt: iso(out.activationExpiresAt) });
  });
  r.post('/api/v1/users/:id/unlock', async (req, res) => {
    await svc.unlockUser(db, who(req), idOf(req));
    res.status(204).end();
  });
  r.post('/api/v1/users/:id/activation', async (req, res) => {
    const out = await svc.reissueActivation(db, cfg, who(req), idOf(req));
    res.set('Cache-Control', 'no-store').json({ activationCode: out.activationCode, activationExpiresAt: iso(out.expiresAt) });
  });
  r.get('/api/v1/account-requests', async (req, res) => {
    const q = parseOr400(paging.extend({ view: z.enum(['inbox', 'todo', 'mine', 'all']).optional(), status: z.enum(['pending', 'approved', 'rejected', 'done']).optional() }), req.query);
    const out = await svc.listAccountRequests(db, who(req), q);
    res.json({ items: out.items.map(requestJson), total: out.total });
  });
  r.get('/api/v1/account-requests/:id', async (req, res) => {
    res.json(requestJson(await svc.getAccountRequest(db, who(req), idOf(req))));
  });
  r.post('/api/v1/account-requests', async (req, res) => {
    const id = await svc.fileAccountRequest(db, cfg, who(req), parseOr400(requestBody, req.body) as svc.AccountRequestInput);
    res.status(201).json({ id, status: 'pending' });
  });
  r.post('/api/v1/account-requests/:id/decision', async (req, res) => {
    const id = idOf(req);
    await svc.decideAccountRequest(db, who(req), id, parseOr400(decisionBody, req.body));
    res.json(requestJson(await svc.getAccountRequest(db, who(req), id)));
  });
  r.post('/api/v1/account-requests/:id/execute', async (req, res) => {
    const out = await svc.executeAccountRequest(db, cfg, who(req), idOf(req));
    res.set('Cache-Control', 'no-store').json({ requestId: out.requestId, userId: out.userId, account: out.account, activationCode: out.activationCode ?? null, activationExpiresAt: iso(out.activationExpiresAt) });
  });
  r.get('/api/v1/account-reviews', async (req, res) => {
    const items = await listReviewRuns(db);
    // Beside the runs: accounts within reach that mail cannot reach (issue 18).
    res.json({ items: items.map((x) => ({ ...x, startedAt: iso(x.startedAt), finishedAt: iso(x.finishedAt) })), total: items.length, withoutEmail: await accountsWithoutEmail(db, who(req)) });
  });
  r.get('/api/v1/account-reviews/:id', async (req, res) => {
    const id = idOf(req);
    const run = (await listReviewRuns(db)).find((x) => x.id === id);
    if (!run) throw notFound('找不到指定的帳號清查。');
    const items = await listReviewItems(db, who(req), { reviewId: id });
    res.json({ ...run, startedAt: iso(run.startedAt), finishedAt: iso(run.finishedAt), items: items.map((i) => ({ ...i, decidedAt: iso(i.decidedAt) })) });
  });
  r.post('/api/v1/account-reviews', async (req, res) => {
    const out = await runReviewNow(ctx, who(req));
    res.status(201).json(out);
  });
  r.get('/api/v1/review-items', async (req, res) => {
    const q = parseOr400(z.object({ status: z.enum(['open', 'kept', 'disabled']).optional(), review: z.coerce.number().int().positive().optional() }), req.query);
    const items = await listReviewItems(db, who(req), { status: q.status, reviewId: q.review });
    res.json({ items: items.map((i) => ({ ...i, decidedAt: iso(i.decidedAt) })), total: items.length });
  });
  r.post('/api/v1/review-items/:id/decision', async (req, res) => {
    await decideReviewItem(db, who(req), idOf(req), parseOr400(reviewDecisionBody, req.body));
    res.status(204).end();
  });

  // ---------------------------------------------------------------- pages
  r.get('/accounts/me', async (req, res) => {
    const a = req.actor!;
    const u = await db('users as u').join('units as n', 'n.id', 'u.unit_id').where('u.id', a.id).first('u.account', 'u.name', 'u.email', 'u.rank', 'u.title', 'u.auth_source', 'u.password_changed_at', 'u.last_login_at', 'u.last_login_ip', 'n.name as unit_name', 'n.code as unit_code');
    const sessions = await db('sessions').where({ user_id: a.id }).andWhere('expires_at', '>', now()).orderBy('created_at').select('ip', 'created_at', 'last_seen_at');
    const expiresOn = u.password_changed_at ? localDate(Number(u.password_changed_at) + cfg.PASSWORD_MAX_AGE_DAYS * 86_400_000) : null;
    const mail = { on: !!cfg.SMTP_URL, reminders: await reminderPreferenceOf(db, a.id), hasAddress: isAddress(u.email?.trim()) };
    renderPage(res, 'accounts/me', { title: '我的帳號', u, roles: a.roles, permissions: await permissionsOf(db, a.id), names: await svc.permissionNames(db), sessions, expiresOn, mail });
  });

  r.get('/accounts/units', async (req, res) => {
    const units = await svc.listUnits(db);
    const scopes = await db('scopes').where({ active: true }).orderBy('sort').select('code', 'clause', 'title');
    renderPage(res, 'accounts/units', { title: '單位管理', units, parents: await svc.parentChoices(db, who(req)), scopes, errors: {}, values: {}, canEdit: req.actor!.roles.some((x) => (ADMINS as readonly string[]).includes(x)), isPlanning: req.actor!.roles.includes('planning_admin') });
  });
  r.post('/accounts/units', async (req, res) => {
    const body = { ...req.body, hasSections: req.body?.hasSections === 'on' || req.body?.hasSections === 'true' };
    const parsed = unitCreate.safeParse(body);
    const show = async (errors: Record<string, string>, status: number) => {
      const units = await svc.listUnits(db);
      const scopes = await db('scopes').where({ active: true }).orderBy('sort').select('code', 'clause', 'title');
      renderPage(res, 'accounts/units', { title: '單位管理', units, parents: await svc.parentChoices(db, who(req)), scopes, errors, values: req.body ?? {}, canEdit: true, isPlanning: req.actor!.roles.includes('planning_admin') }, status);
    };
    if (!parsed.success) return show(Object.fromEntries(fieldErrors(parsed.error).map((e) => [e.field, e.message])), 400);
    try {
      await svc.createUnit(db, who(req), parsed.data);
    } catch (e) {
      if (e instanceof Problem && e.status < 500) return show(formErrors(e), e.status);
      throw e;
    }
    req.session.flash = { kind: 'ok', text: `已新增單位 ${parsed.data.name}。` };
    res.redirect(303, '/accounts/units');
  });
  r.post('/accounts/units/:id', async (req, res) => {
    const id = idOf(req);
    const b = req.body ?? {};
    await act(req, res, '/accounts/units', async () => {
      const input = parseOr400(unitUpdate, { name: opt(b.name), parent: opt(b.parent), hasSections: b.hasSections === undefined ? undefined : b.hasSections === 'true', close: b.close === 'true' ? true : undefined });
      await svc.updateUnit(db, who(req), id, input);
      return input.close ? '單位已裁撤（保留歷史紀錄）。' : '單位資料已更新。';
    });
  });
  r.post('/accounts/units/:id/scopes', async (req, res) => {
    const id = idOf(req);
    await act(req, res, '/accounts/units', async () => {
      const out = await svc.setUnitScopes(db, who(req), id, arr(req.body?.scopes));
      return `業務範圍授權已更新：新增 ${out.added.length} 項、終止 ${out.terminated.length} 項（收回 ${out.revoked} 筆查詢權限）。`;
    });
  });

  r.get('/accounts/users', async (req, res) => {
    const q = { unit: opt(req.query.unit), status: ['pending', 'active', 'disabled'].includes(String(req.query.status)) ? String(req.query.status) : undefined, q: opt(req.query.q)?.slice(0, 64) };
    let list: { items: svc.UserView[]; total: number } = { items: [], total: 0 };
    let error: string | null = null;
    try {
      list = await svc.listUsers(db, who(req), q);
    } catch (e) {
      if (!correctable(e)) throw e;
      error = e.errors[0]?.message ?? e.detail ?? e.title;
    }
    renderPage(res, 'accounts/users', { title: '帳號清冊', list, q, error, statusLabels: STATUS_LABELS });
  });
  r.get('/accounts/users/:id', async (req, res) => {
    const d = await svc.getUser(db, who(req), idOf(req));
    const events = await db('system_events').where({ target_type: 'user', target_id: String(d.user.id) }).orderBy('id', 'desc').limit(30).select('at', 'actor_account', 'action', 'outcome', 'ip');
    renderPage(res, 'accounts/user', { title: `帳號 ${d.user.account}`, d, events, names: await svc.permissionNames(db), statusLabels: STATUS_LABELS, canAdmin: req.actor!.roles.some((x) => (ADMINS as readonly string[]).includes(x)), canFile: req.actor!.roles.some((x) => (FILERS as readonly string[]).includes(x)) });
  });
  r.post('/accounts/users/:id/unlock', async (req, res) => {
    const id = idOf(req);
    await act(req, res, `/accounts/users/${id}`, async () => {
      await svc.unlockUser(db, who(req), id);
      return '帳號已解除鎖定。';
    });
  });
  r.post('/accounts/users/:id/activation', async (req, res) => {
    const id = idOf(req);
    try {
      const out = await svc.reissueActivation(db, cfg, who(req), id);
      const u = await db('users').where({ id }).first('account', 'name');
      res.set('Cache-Control', 'no-store');
      return renderPage(res, 'accounts/activation', { title: '啟用碼', account: u.account, name: u.name, code: out.activationCode, expiresAt: out.expiresAt, back: `/accounts/users/${id}` });
    } catch (e) {
      if (!correctable(e)) throw e;
      req.session.flash = { kind: 'error', text: e.detail ?? e.title };
      res.redirect(303, `/accounts/users/${id}`);
    }
  });

  const requestList = (view: 'inbox' | 'todo' | 'mine' | 'all', title: string) => async (req: Request, res: Response) => {
    const list = await svc.listAccountRequests(db, who(req), { view });
    // The admin's to-do page also carries the lockouts of accounts it administers (in-app alert).
    const lockouts = view === 'todo' ? await lockoutAlerts(db, who(req)) : null;
    renderPage(res, 'accounts/requests', { title, view, list, lockouts, lockoutDays: LOCKOUT_ALERT_DAYS, statusLabels: REQUEST_STATUS_LABELS });
  };
  r.get('/accounts/requests', (req, res) => {
    const v = String(req.query.view ?? 'all');
    return requestList((['inbox', 'todo', 'mine', 'all'].includes(v) ? v : 'all') as 'all', '帳號申請')(req, res);
  });
  r.get('/accounts/approvals', requestList('inbox', '帳號申請核定（待核定）'));
  r.get('/accounts/todo', requestList('todo', '帳號配賦（待辦）'));

  const formData = async (req: Request) => {
    // Only what the filer may ask for: their units, and the scopes authorised to those units' agencies.
    const { units, scopeCodes } = await svc.requestFormChoices(db, who(req));
    const scopes = (await db('scopes').where({ active: true }).orderBy('sort').select('code', 'clause', 'title')).filter((x: { code: string }) => scopeCodes.includes(x.code));
    const ops = await db('op_codes').where({ active: true }).orderBy('code').select('code', 'name');
    const users = (await svc.listUsers(db, who(req), { status: 'active', limit: 1000 })).items;
    return { units, scopes, ops, users, roles: ROLES.filter((x) => x !== 'planning_admin'), roleLabels: ROLE_LABELS, ranks: RANKS, rankLabels: RANK_LABELS, kinds: svc.KIND_LABELS };
  };
  r.get('/accounts/requests/new', async (req, res) => {
    const kind = ['new', 'change', 'disable', 'handover'].includes(String(req.query.kind)) ? String(req.query.kind) : 'new';
    const values: Record<string, unknown> = { kind, unit: opt(req.query.unit) ?? '', userId: opt(req.query.userId) ?? '', authSource: 'local', roles: [], perms: [], disableOn: localDate(now()) };
    if (req.query.annex === '1') Object.assign(values, { kind: 'new', roles: ['admin'], annex: '1' });
    renderPage(res, 'accounts/request-form', { title: '帳號申請', values, errors: {}, ...(await formData(req)) });
  });
  r.post('/accounts/requests', async (req, res) => {
    const b = req.body ?? {};
    const values = { ...b, roles: arr(b.roles), perms: arr(b.perms) };
    const show = async (errors: Record<string, string>, status: number) => renderPage(res, 'accounts/request-form', { title: '帳號申請', values, errors, ...(await formData(req)) }, status);
    const parsed = requestBody.safeParse(formToRequest(b));
    if (!parsed.success) return show(Object.fromEntries(fieldErrors(parsed.error).map((e) => [e.field, e.message])), 400);
    try {
      const id = await svc.fileAccountRequest(db, cfg, who(req), parsed.data as svc.AccountRequestInput);
      req.session.flash = { kind: 'ok', text: `帳號申請 #${id} 已送出，待權責主管核定。` };
      res.redirect(303, `/accounts/requests/${id}`);
    } catch (e) {
      if (e instanceof Problem && e.status < 500) return show(formErrors(e), e.status);
      throw e;
    }
  });
  /** The request page; `decision` re-shows a refused decision form with what was typed and why. */
  const showRequest = async (req: Request, res: Response, id: number, decision?: { reason: string; errors: Record<string, string> }) => {
    const v = await svc.getAccountRequest(db, who(req), id);
    renderPage(res, 'accounts/request', { title: `帳號申請 #${v.id}`, v, names: await svc.permissionNames(db), statusLabels: REQUEST_STATUS_LABELS, roleLabels: ROLE_LABELS, rankLabels: RANK_LABELS, stepLabels: STEP_LABELS, decision: decision ?? { reason: '', errors: {} } }, decision ? 400 : 200);
  };
  r.get('/accounts/requests/:id', async (req, res) => showRequest(req, res, idOf(req)));
  r.post('/accounts/requests/:id/decision', async (req, res) => {
    const id = idOf(req);
    await svc.getAccountRequest(db, who(req), id); // 404 outside the caller's subtree, before any form check
    const typed = typeof req.body?.reason === 'string' ? req.body.reason : '';
    await act(req, res, `/accounts/requests/${id}`, async () => {
      const body = parseOr400(decisionBody, req.body);
      await svc.decideAccountRequest(db, who(req), id, body);
      return body.decision === 'approve' ? '已核可此申請，交由管理者配賦。' : '已駁回此申請。';
    }, (errors) => showRequest(req, res, id, { reason: typed, errors }));
  });
  r.post('/accounts/requests/:id/execute', async (req, res) => {
    const id = idOf(req);
    try {
      const out = await svc.executeAccountRequest(db, cfg, who(req), id);
      if (out.activationCode) {
        const u = await db('users').where({ id: out.userId }).first('account', 'name');
        res.set('Cache-Control', 'no-store');
        return renderPage(res, 'accounts/activation', { title: '啟用碼', account: u.account, name: u.name, code: out.activationCode, expiresAt: out.activationExpiresAt, back: `/accounts/requests/${id}` });
      }
      req.session.flash = { kind: 'ok', text: '已完成配賦。' };
    } catch (e) {
      if (!correctable(e)) throw e;
      req.session.flash = { kind: 'error', text: e.errors.length ? e.errors.map((x) => x.message).join(' ') : e.detail ?? e.title };
    }
    res.redirect(303, `/accounts/requests/${id}`);
  });

  /** A refused item decision, re-shown in its row with what was typed and why. */
  type ItemForm = { id: number; reason: string; errors: Record<string, string> };
  const noItemForm: ItemForm = { id: 0, reason: '', errors: {} };
  const showReviews = async (req: Request, res: Response, itemForm?: ItemForm) => {
    const runs = await listReviewRuns(db);
    const items = await listReviewItems(db, who(req), { status: 'open' });
    const withoutEmail = await accountsWithoutEmail(db, who(req));
    renderPage(res, 'accounts/reviews', { title: '帳號清查', runs, items, withoutEmail, findingLabels: FINDING_LABELS, canRun: req.actor!.roles.some((x) => (ADMINS as readonly string[]).includes(x)), itemForm: itemForm ?? noItemForm }, itemForm ? 400 : 200);
  };
  const showReview = async (req: Request, res: Response, id: number, itemForm?: ItemForm) => {
    const run = (await listReviewRuns(db)).find((x) => x.id === id);
    if (!run) throw notFound('找不到指定的帳號清查。');
    const items = await listReviewItems(db, who(req), { reviewId: id });
    renderPage(res, 'accounts/review', { title: `帳號清查 #${id}`, run, items, findingLabels: FINDING_LABELS, itemStatus: ITEM_STATUS_LABELS, itemForm: itemForm ?? noItemForm }, itemForm ? 400 : 200);
  };
  r.get('/accounts/reviews', async (req, res) => showReviews(req, res));
  r.get('/accounts/reviews/:id', async (req, res) => showReview(req, res, idOf(req)));
  r.post('/accounts/reviews', async (req, res) => {
    await act(req, res, '/accounts/reviews', async () => {
      const out = await runReviewNow(ctx, who(req));
      return `帳號清查已完成：發現 ${out.findings} 項待決定。`;
    });
  });
  r.post('/accounts/review-items/:id/decision', async (req, res) => {
    const id = idOf(req);
    const back = typeof req.body?.back === 'string' && /^\/accounts\/reviews(\/\d+)?$/.test(req.body.back) ? req.body.back : '/accounts/reviews';
    await assertReviewItemVisible(db, who(req), id);
    const typed = typeof req.body?.reason === 'string' ? req.body.reason : '';
    await act(req, res, back, async () => {
      const body = parseOr400(reviewDecisionBody, req.body);
      await decideReviewItem(db, who(req), id, body);
      return body.decision === 'keep' ? '已決定保留此帳號（理由已記錄）。' : '已停用此帳號。';
    }, (errors) => {
      const form = { id, reason: typed, errors };
      const run = /^\/accounts\/reviews\/(\d+)$/.exec(back);
      return run ? showReview(req, res, Number(run[1]), form) : showReviews(req, res, form);
    });
  });
}

/** On demand: the same job as the monthly run, forced so an earlier run of the month stays as history. */
async function runReviewNow(ctx: AppContext, by: Actor) {
  const jc: ReviewJobContext = { db: ctx.db, cfg: ctx.cfg, startedBy: by };
  const outcome = await runJob(jc, accountReviewJob, { force: true, trigger: 'manual' });
  if (outcome.status !== 'ran') throw new Problem(409, 'review-not-run', 'Review not run', outcome.status === 'failed' ? `帳號清查失敗：${outcome.error}` : 'message' in outcome ? outcome.message : '帳號清查未執行。');
  return outcome.result as { reviewId: number; findings: number };
}

export const STATUS_LABELS = USER_STATUS_LABELS;
export { REQUEST_STATUS_LABELS };
export const STEP_LABELS: Record<string, string> = { filed: '提出申請', approved: '核可', rejected: '駁回', executed: '配賦完成' };
export const ITEM_STATUS_LABELS: Record<string, string> = { open: '待決定', kept: '保留', disabled: '已停用' };

/** The home-page panels of this part (server/capability.ts `homePanels`). */
export const homePanels: HomePanel[] = [
  homePanel,
];
