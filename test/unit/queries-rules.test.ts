// Clause 4(一) rules without a database: meaningful case numbers and reasons, request forms
// covering an entry, who decides a form, visibility per role, the retention cut-off.
import { expect } from 'chai';
import * as rules from '../../server/queries/rules.ts';

describe('query log rules (clause 4(一))', () => {
  describe('case number (案號)', () => {
    it('refuses blank and placeholder case numbers', () => {
      for (const v of ['', '   ', 'test', 'TEST', ' xxx ', 'XXXX', '無', '…', '...', '－', 'N/A', 'na', '0000', '1111', '同上', '查詢', '測試']) {
        expect(rules.caseNoProblem(v, null), JSON.stringify(v)).to.be.a('string');
      }
    });
    it('accepts real case numbers and enforces the agency pattern when set', () => {
      for (const v of ['AG1-1130001', '113社字第0001號', '府社救字第1130012345號', 'T-2025-77']) expect(rules.caseNoProblem(v, null), v).to.equal(null);
      expect(rules.caseNoProblem('衛1234', '衛\\d{4}')).to.equal(null);
      expect(rules.caseNoProblem('衛12345', '衛\\d{4}')).to.contain('格式');
      expect(rules.caseNoProblem('x衛1234', '衛\\d{4}')).to.contain('格式');
      expect(rules.caseNoProblem('AG1-1', '([')).to.equal(null); // a broken pattern is not enforced
      expect(rules.caseNoProblem('A'.repeat(65), null)).to.contain('64');
      expect(rules.caseNoProblem('A\u0000B', null)).to.contain('控制字元');
    });
  });

  describe('reason (查詢事由)', () => {
    it('refuses blank, placeholder and too short reasons', () => {
      for (const v of ['', ' ', '查詢', '無', '…', '……', 'xxx', 'test', 'Test', '業務需要', '略', '。。。。', 'aaaaaa']) expect(rules.reasonProblem(v, 4), JSON.stringify(v)).to.be.a('string');
      expect(rules.reasonProblem('訪視', 4)).to.contain('至少 4 字');
      expect(rules.reasonProblem('訪視。。', 4)).to.contain('至少 4 字');
      expect(rules.reasonProblem('x'.repeat(501), 4)).to.contain('500');
    });
    it('accepts meaningful reasons, counting Chinese characters as one each', () => {
      expect(rules.reasonProblem('個案訪視', 4)).to.equal(null);
      expect(rules.reasonProblem('地價稅欠稅人通訊地址查詢以送達', 10)).to.equal(null);
      expect(rules.reasonProblem('check address', 4)).to.equal(null);
    });
  });

  describe('request form covering an entry', () => {
    const form: rules.RequestForm = { id: 1, requester_id: 5, unit_id: 2, scope_code: '2-1', status: 'approved', valid_from: '2026-01-01', valid_to: '2026-12-31' };
    it('covers the clerk’s own approved form in its period and scope', () => {
      expect(rules.requestFormProblem(form, 5, '2-1', '2026-06-01')).to.equal(null);
      expect(rules.requestFormProblem(form, 5, '2-1', '2026-01-01')).to.equal(null);
      expect(rules.requestFormProblem(form, 5, '2-1', '2026-12-31')).to.equal(null);
    });
    it('names why a form does not cover it', () => {
      expect(rules.requestFormProblem(undefined, 5, '2-1', '2026-06-01')).to.contain('查無');
      expect(rules.requestFormProblem(form, 6, '2-1', '2026-06-01')).to.contain('非本人');
      expect(rules.requestFormProblem({ ...form, status: 'pending' }, 5, '2-1', '2026-06-01')).to.contain('尚未經單位主管核准');
      expect(rules.requestFormProblem({ ...form, status: 'rejected' }, 5, '2-1', '2026-06-01')).to.contain('未獲核准');
      expect(rules.requestFormProblem(form, 5, '2-1', '2027-01-01')).to.contain('到期');
      expect(rules.requestFormProblem(form, 5, '2-1', '2025-12-31')).to.contain('尚未生效');
      expect(rules.requestFormProblem(form, 5, '2-8', '2026-06-01')).to.contain('業務範圍');
    });
    it('checks a new form’s validity period', () => {
      expect(rules.validityProblem('2026-05-01', '2026-06-01', '2026-05-01')).to.equal(null);
      expect(rules.validityProblem('2026-04-30', '2026-06-01', '2026-05-01')?.field).to.equal('validFrom');
      expect(rules.validityProblem('2026-05-02', '2026-05-01', '2026-05-01')?.field).to.equal('validTo');
      expect(rules.validityProblem('2026-05-01', '2027-05-02', '2026-05-01')?.field).to.equal('validTo');
      expect(rules.validityProblem('2026-05-01', '2027-05-01', '2026-05-01')).to.equal(null);
    });
  });

  describe('who decides a form', () => {
    const base = { deciderId: 1, deciderRoles: ['supervisor'] as const, requesterId: 2, requestUnitInDeciderSubtree: true, sameAgency: true, status: 'pending' };
    it('a supervisor above the clerk in the same agency decides a pending form', () => {
      expect(rules.deciderProblem(base)).to.equal(null);
    });
    it('never their own, never outside their subtree or agency, never twice, never a non-supervisor', () => {
      expect(rules.deciderProblem({ ...base, requesterId: 1 })?.status).to.equal(403);
      expect(rules.deciderProblem({ ...base, requestUnitInDeciderSubtree: false })?.status).to.equal(403);
      expect(rules.deciderProblem({ ...base, sameAgency: false })?.status).to.equal(403);
      expect(rules.deciderProblem({ ...base, deciderRoles: ['clerk'] })?.status).to.equal(403);
      expect(rules.deciderProblem({ ...base, status: 'approved' })?.status).to.equal(409);
    });
  });

  describe('visibility (clause 4(一)2–3)', () => {
    const sub = [2, 3, 4];
    it('clerk: own entries; supervisor and checker: their subtree; auditor and planning: all; ethics, admin, it: none by default', () => {
      expect(rules.baseVisibility({ id: 9, roles: ['clerk'], unitKind: 'agency' }, sub)).to.deep.equal({ all: false, unitIds: [], userIds: [9], ranges: [] });
      expect(rules.baseVisibility({ id: 9, roles: ['supervisor'], unitKind: 'agency' }, sub).unitIds).to.deep.equal(sub);
      expect(rules.baseVisibility({ id: 9, roles: ['checker'], unitKind: 'unit' }, sub).unitIds).to.deep.equal(sub);
      expect(rules.baseVisibility({ id: 9, roles: ['auditor'], unitKind: 'agency' }, sub).all).to.equal(true);
      expect(rules.baseVisibility({ id: 9, roles: ['it'], unitKind: 'planning' }, sub).all).to.equal(true);
      expect(rules.baseVisibility({ id: 9, roles: ['planning_admin'], unitKind: 'planning' }, sub).all).to.equal(true);
      for (const r of ['ethics', 'admin', 'it'] as const) expect(rules.baseVisibility({ id: 9, roles: [r], unitKind: 'agency' }, sub)).to.deep.equal(rules.NOBODY);
      const both = rules.baseVisibility({ id: 9, roles: ['clerk', 'supervisor'], unitKind: 'agency' }, sub);
      expect(both.userIds).to.deep.equal([9]);
      expect(both.unitIds).to.deep.equal(sub);
    });
    it('full subjects: auditors, planning admins, ethics only within an investigation', () => {
      expect(rules.mayRevealSubject({ roles: ['auditor'], unitKind: 'agency' }, false)).to.equal(true);
      expect(rules.mayRevealSubject({ roles: ['planning_admin'], unitKind: 'planning' }, false)).to.equal(true);
      expect(rules.mayRevealSubject({ roles: ['it'], unitKind: 'planning' }, false)).to.equal(false);
      expect(rules.mayRevealSubject({ roles: ['ethics'], unitKind: 'agency' }, false)).to.equal(false);
      expect(rules.mayRevealSubject({ roles: ['ethics'], unitKind: 'agency' }, true)).to.equal(true);
      for (const r of ['clerk', 'supervisor', 'checker', 'admin'] as const) expect(rules.mayRevealSubject({ roles: [r], unitKind: 'agency' }, true), r).to.equal(false);
      expect(rules.maySearchAllSubjects(['ethics'])).to.equal(true);
      expect(rules.maySearchAllSubjects(['supervisor'])).to.equal(false);
    });
  });

  it('retention cut-off is the same day N years earlier (29 Feb → 28 Feb)', () => {
    expect(rules.retentionCutoffDate('2026-11-23', 5)).to.equal('2021-11-23');
    expect(rules.retentionCutoffDate('2028-02-29', 5)).to.equal('2023-02-28');
    expect(rules.retentionCutoffDate('2028-02-29', 4)).to.equal('2024-02-29');
  });

  it('batches are limited to 500 entries', () => {
    expect(rules.MAX_BATCH).to.equal(500);
  });
});
