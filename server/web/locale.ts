// Validation messages in Traditional Chinese (zod's zh-TW locale), set once per process.
import { z } from 'zod';

let done = false;
export function configureLocale(): void {
  if (done) return;
  z.config(z.locales.zhTW());
  done = true;
}
