// doctor's reading of SHOW GRANTS: which lines let an account UPDATE or DELETE query_logs.
import { expect } from 'chai';
import { grantsAllowingRewrite, parseAccount } from '../../server/doctor.ts';

describe('doctor: grants that can rewrite the query log', () => {
  const to = ' TO `nhi`@`%`';
  const wide = (g: string) => grantsAllowingRewrite([g + to], 'nhi_audit').length === 1;
  const widening = [
    'GRANT ALL PRIVILEGES ON *.*',
    'GRANT SELECT, UPDATE ON *.*',
    'GRANT ALL PRIVILEGES ON `nhi_audit`.*',
    'GRANT DELETE ON `nhi\\_%`.*',
    'GRANT SELECT, INSERT, DELETE ON `nhi_audit`.`query_logs`',
    'GRANT SELECT, UPDATE (`subject_cipher`, `reason`) ON `nhi_audit`.`query_logs`',
  ];
  const harmless = [
    'GRANT USAGE ON *.*',
    'GRANT SELECT, INSERT ON `nhi_audit`.`query_logs`',
    'GRANT SELECT, INSERT, UPDATE, DELETE ON `nhi_audit`.`log_chain_head`',
    'GRANT ALL PRIVILEGES ON `other`.*',
    'GRANT ALL PRIVILEGES ON `nhi\\_audit2`.*',
    'GRANT SELECT, DELETE HISTORY ON `nhi_audit`.`query_logs`',
  ];
  it('counts a global, database (patterns too) or table grant of ALL, UPDATE or DELETE, column grants included', () => {
    expect(widening.filter((g) => !wide(g))).to.deep.equal([]);
  });
  it('does not count SELECT and INSERT, other tables or databases, or DELETE HISTORY', () => {
    expect(harmless.filter(wide)).to.deep.equal([]);
    expect(grantsAllowingRewrite(['GRANT `app_role` TO `nhi`@`%`'], 'nhi_audit')).to.deep.equal([]);
  });
  it('reads USER[@HOST] with host % by default and refuses anything needing quotes', () => {
    expect(parseAccount('nhi')).to.deep.equal({ user: 'nhi', host: '%' });
    expect(parseAccount('nhi@10.0.%')).to.deep.equal({ user: 'nhi', host: '10.0.%' });
    expect(parseAccount("nhi'@%")).to.equal(null);
    expect(parseAccount('nhi@`x`')).to.equal(null);
  });
});
