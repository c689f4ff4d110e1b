// The fields every recorded query carries (clause 4(一)1, 4): one shape for a single entry, a
// batch of entries and a batch query (批次查詢), so their messages cannot drift apart.
import { z } from 'zod';

export const str = (max: number, msg: string) => z.string({ error: msg }).max(max, `最多 ${max} 字`);

export const entryFields = {
  caseNo: str(64, '請輸入案號'),
  reason: str(500, '請輸入查詢事由'),
  opCode: str(16, '請輸入查詢作業代號'),
  scope: str(16, '請輸入業務範圍'),
  queryRequestId: z.number({ error: '申請單編號須為數字' }).int().positive().nullable().optional(),
  account: z.string().max(64).nullable().optional(),
};
