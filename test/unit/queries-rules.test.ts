// Clause 4(一) rules without a database: meaningful case numbers and reasons, request forms
// covering an entry, who decides a form, visibility per role, the retention cut-off.
import { expect } from 'chai';
import * as rules from '../../server/queries/rules.ts';
import { reachOf } from '../../server/accounts/reach.ts';
import { subtreeOf, type UnitRow } from '../../server/accounts/units.ts';
import type { Role } from '../../server/accounts/roles.ts';

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
    it('refuses text that is not well-formed, control characters (tab and newline too) and direction overrides, naming the case number', () => {
      for (const v of ['A\uD800B', 'A\uDC00B', 'A\u0007B', 'A\tB', 'A\nB', 'A\u007FB', 'A\u0085B', 'A\u202EB', 'A\u202AB', 'A\u2066B', 'A\u2069B']) {
        expect(rules.caseNoProblem(v, null), JSON.stringify(v)).to.match(/^案號含有/);
      }
      for (const v of ['AG1-\uD83D\uDE00', 'AG1-\uFFFD', 'AG1-e\u0301', 'AG1-\u200E']) expect(rules.caseNoProblem(v, null), JSON.stringify(v)).to.equal(null);
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
    it('allows tab and newline in the reason, refuses other control characters, lone surrogates and direction overrides under its label', () => {
      expect(rules.reasonProblem('個案訪視\n第二行\t補充', 4)).to.equal(null);
      for (const v of ['個案訪視\uD800', '個案\uDC00訪視', '個案訪視\u0000', '個案訪視\u0007', '個案訪視\u009B', '個案\u202E訪視', '個案\u2067訪視']) {
        expect(rules.reasonProblem(v, 4), JSON.stringify(v)).to.match(/^查詢事由含有/);
      }
      expect(rules.reasonProblem('辦理\u202D補助', 4, '查詢目的')).to.match(/^查詢目的含有改變文字方向/);
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

  describe('visibility (clause 4(一)2–3): need to know', () => {
    // 1 planning → 2 agency A → 3 its unit; 4 agency B; 5 a planning-department office (not an agency).
    const units = [
      { id: 1, code: 'PLAN', name: '計畫處', kind: 'planning', parent_id: null, has_sections: 0, status: 'active' },
      { id: 2, code: 'A', name: 'A', kind: 'agency', parent_id: 1, has_sections: 0, status: 'active' },
      { id: 3, code: 'A1', name: 'A1', kind: 'unit', parent_id: 2, has_sections: 0, status: 'active' },
      { id: 4, code: 'B', name: 'B', kind: 'agency', parent_id: 1, has_sections: 0, status: 'active' },
      { id: 5, code: 'P1', name: 'P1', kind: 'unit', parent_id: 1, has_sections: 0, status: 'active' },
    ] as UnitRow[];
    const vis = (roles: Role[], unitId: number) => rules.baseVisibility({ id: 9, roles }, reachOf(units, { unitId, roles }), subtreeOf(units, unitId));
    it('reach: county-wide only for planning-department admins, auditors and ethics; else the own agency and below', () => {
      expect(reachOf(units, { unitId: 1, roles: ['auditor'] })).to.deep.equal({ countyWide: true, unitIds: [1, 2, 3, 4, 5] });
      expect(reachOf(units, { unitId: 1, roles: ['ethics'] }).countyWide).to.equal(true);
      expect(reachOf(units, { unitId: 3, roles: ['auditor'] })).to.deep.equal({ countyWide: false, unitIds: [2, 3] });
      expect(reachOf(units, { unitId: 2, roles: ['ethics'] }).unitIds.sort()).to.deep.equal([2, 3]);
      // Planning-department staff without a county-wide role reach their own offices, never an agency.
      expect(reachOf(units, { unitId: 1, roles: ['it', 'supervisor'] }).unitIds.sort()).to.deep.equal([1, 5]);
    });
    it('clerk: own entries; supervisor and checker: their subtree within reach; agency auditor: the agency; county-wide: all; ethics, admin, it: none by default', () => {
      expect(vis(['clerk'], 2)).to.deep.equal({ all: false, unitIds: [], userIds: [9], ranges: [] });
      expect(vis(['supervisor'], 2).unitIds.sort()).to.deep.equal([2, 3]);
      expect(vis(['checker'], 3).unitIds).to.deep.equal([3]);
      expect(vis(['auditor'], 3)).to.deep.include({ all: false });
      expect(vis(['auditor'], 3).unitIds.sort()).to.deep.equal([2, 3]);
      expect(vis(['auditor'], 1).all).to.equal(true);
      expect(vis(['planning_admin'], 1).all).to.equal(true);
      expect(vis(['it'], 1).all).to.equal(false);
      expect(vis(['supervisor'], 1).unitIds.sort()).to.deep.equal([1, 5]);
      for (const r of ['ethics', 'admin', 'it'] as const) expect(vis([r], 2)).to.deep.equal(rules.NOBODY);
      const both = vis(['clerk', 'supervisor'], 2);
      expect(both.userIds).to.deep.equal([9]);
      expect(both.unitIds.sort()).to.deep.equal([2, 3]);
    });
    it('full subjects: auditors and planning admins within reach, ethics only within an investigation', () => {
      expect(rules.mayRevealSubject({ roles: ['auditor'] }, { reach: true, investigation: false })).to.equal(true);
      expect(rules.mayRevealSubject({ roles: ['auditor'] }, { reach: false, investigation: false })).to.equal(false);
      expect(rules.mayRevealSubject({ roles: ['planning_admin'] }, { reach: true, investigation: false })).to.equal(true);
      expect(rules.mayRevealSubject({ roles: ['it'] }, { reach: true, investigation: false })).to.equal(false);
      expect(rules.mayRevealSubject({ roles: ['ethics'] }, { reach: true, investigation: false })).to.equal(false);
      expect(rules.mayRevealSubject({ roles: ['ethics'] }, { reach: false, investigation: true })).to.equal(true);
      for (const r of ['clerk', 'supervisor', 'checker', 'admin'] as const) expect(rules.mayRevealSubject({ roles: [r] }, { reach: true, investigation: true }), r).to.equal(false);
    });
    it('search by subject is reveal-class: revealing roles only, over what they may reveal', () => {
      for (const r of ['clerk', 'supervisor', 'checker', 'admin', 'it'] as const) expect(rules.maySearchBySubject([r]), r).to.equal(false);
      const agencyAuditor = rules.subjectSearchVisibility({ roles: ['auditor'] }, reachOf(units, { unitId: 3, roles: ['auditor'] }), rules.NOBODY);
      expect(agencyAuditor.all).to.equal(false);
      expect(agencyAuditor.unitIds.sort()).to.deep.equal([2, 3]);
      const range = { unitIds: [4], from: 0, to: 10 };
      const ethics = rules.subjectSearchVisibility({ roles: ['ethics'] }, reachOf(units, { unitId: 2, roles: ['ethics'] }), { ...rules.NOBODY, ranges: [range] });
      expect(ethics).to.deep.equal({ all: false, unitIds: [], userIds: [], ranges: [range] });
      expect(rules.subjectSearchVisibility({ roles: ['supervisor'] }, reachOf(units, { unitId: 1, roles: ['supervisor'] }), { ...rules.NOBODY, all: true })).to.deep.equal(rules.NOBODY);
      expect(rules.subjectSearchVisibility({ roles: ['ethics'] }, reachOf(units, { unitId: 1, roles: ['ethics'] }), rules.NOBODY).all).to.equal(true);
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
