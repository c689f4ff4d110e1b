// argon2id hashing and the password policy of clause 3(二)1(5) (floors from 資通系統防護基準).
import argon2 from 'argon2';

const OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (plain: string): Promise<string> => argon2.hash(plain, OPTIONS);

export async function verifyPassword(hash: string | null | undefined, plain: string): Promise<boolean> {
  if (!hash) return false;
  try {
    return await argon2.verify(hash, plain);
  } catch {
    return false;
  }
}

// Verifying against this keeps the time of "unknown account" equal to "wrong password".
let dummy: Promise<string> | undefined;
export const dummyHash = (): Promise<string> => (dummy ??= hashPassword('dummy-password-for-timing-Aa1'));

export interface PasswordPolicy {
  minLength: number;
}

/** Rule messages (zh-TW) for a candidate password; empty when it satisfies the policy. */
export function passwordProblems(candidate: string, account: string, policy: PasswordPolicy): string[] {
  const out: string[] = [];
  if (candidate.length < policy.minLength) out.push(`密碼長度至少 ${policy.minLength} 個字元`);
  if (!/[A-Z]/.test(candidate)) out.push('密碼須包含大寫英文字母');
  if (!/[a-z]/.test(candidate)) out.push('密碼須包含小寫英文字母');
  if (!/[0-9]/.test(candidate)) out.push('密碼須包含數字');
  if (account && candidate.toLowerCase().includes(account.toLowerCase())) out.push('密碼不得包含帳號');
  return out;
}
