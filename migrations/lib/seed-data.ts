// Reference data the schema is seeded with. Business scopes are clause 2 (一)–(十二) of
// 南投縣政府應用衛生福利部中央健康保險署資訊作業管理要點 (113.7.30 amendment); (六) is deleted.

export interface ScopeSeed {
  code: string;
  clause: string;
  title: string;
  legal_basis: string;
  active: boolean;
}

export const SCOPES: ScopeSeed[] = [
  { code: '2-1', clause: '二(一)', active: true, title: '身心障礙者參加社會保險保險費補助作業', legal_basis: '身心障礙者參加社會保險保險費補助辦法第八條及第九條' },
  { code: '2-2', clause: '二(二)', active: true, title: '土地稅稽徵及催繳作業、房屋稅稽徵業務、使用牌照稅稽徵、催繳作業及欠稅執行業務', legal_basis: '稅捐稽徵法第十八條至第十九條及第三十條，行政程序法第六十七條至第六十九條及第七十一條至第七十三條，土地稅法第四十條、第四十三條、第四十六條及第四十九條，房屋稅條例第十二條及使用牌照稅法第十條' },
  { code: '2-3', clause: '二(三)', active: true, title: '六十五歲以上長者健康檢查保健服務實施計畫', legal_basis: '老人福利法第二十一條及老人健康檢查保健服務及追蹤服務準則' },
  { code: '2-4', clause: '二(四)', active: true, title: '協尋傳染病或有傳染病之虞個案', legal_basis: '傳染病防治法第七條' },
  { code: '2-5', clause: '二(五)', active: true, title: '役男徵兵處理業務', legal_basis: '兵役法第一條、第三十二條及徵兵規則第四條' },
  { code: '2-6', clause: '二(六)', active: false, title: '(刪除)', legal_basis: '(本款已刪除)' },
  { code: '2-7', clause: '二(七)', active: true, title: '特殊境遇家庭扶助業務', legal_basis: '特殊境遇家庭扶助條例第九條' },
  { code: '2-8', clause: '二(八)', active: true, title: '兒童及少年保護、脆弱家庭個案管理及六歲以下弱勢兒童主動關懷方案', legal_basis: '兒童及少年福利與權益保障法第五十四條及第七十條' },
  { code: '2-9', clause: '二(九)', active: true, title: '家庭暴力防治業務、強化社會安全網計畫及整合型心理健康工作計畫', legal_basis: '家庭暴力防治法第一條、精神衛生法第六條及自殺防治法第十三條' },
  { code: '2-10', clause: '二(十)', active: true, title: '各項疫苗接種業務之預防接種受害情形調查', legal_basis: '傳染病防治法第三十條及預防接種受害救濟基金徵收及審議辦法第七條' },
  { code: '2-11', clause: '二(十一)', active: true, title: '南投縣兒童死亡原因回溯分析案例討論會議相關業務', legal_basis: '兒童及少年福利與權益保障法第十三條' },
  { code: '2-12', clause: '二(十二)', active: true, title: '其他法令規定，經本府向衛生福利部中央健康保險署申請通過之相關業務', legal_basis: '其他法令規定（經本府向衛生福利部中央健康保險署申請通過後）' },
];

/** A starter catalogue of NHI query operation codes (查詢作業代號); editable by the planning department. */
export const OP_CODES = [
  { code: 'IN01', name: '保險對象投保資料查詢', description: '投保狀態、投保單位、投保日期' },
  { code: 'IN02', name: '投保單位資料查詢', description: '投保單位名稱、地址、聯絡資料' },
  { code: 'IN03', name: '眷屬及投保金額查詢', description: '眷屬依附關係及投保金額' },
  { code: 'IN04', name: '保險費欠費資料查詢', description: '欠費期間及金額' },
  { code: 'AD01', name: '通訊地址及聯絡電話查詢', description: '保險對象通訊地址、電話' },
  { code: 'MD01', name: '就醫紀錄查詢', description: '門、住診就醫院所及日期' },
  { code: 'MD02', name: '重大傷病資料查詢', description: '重大傷病證明及有效期間' },
  { code: 'MD03', name: '預防接種及成人健檢紀錄查詢', description: '預防接種、成人預防保健服務紀錄' },
  { code: 'ST01', name: '身分異動註記查詢', description: '死亡、出境、停保等異動註記' },
];
