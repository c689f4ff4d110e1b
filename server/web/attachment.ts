// Downloads are named for the people who keep them (issue 17): 「115年度_社會及勞動處_報府資料.xlsx」.
// RFC 6266/5987: filename* carries the UTF-8 name; filename an ASCII fallback for old clients.
import type { Request, Response } from 'express';
import { WORKBOOK_MIME, type WorkbookFormat } from '../../reports/cells.ts';
import { workbookFormatOf } from './validate.ts';

/** Characters a file name may not hold on the systems people save to (and quotes, for the header). */
const UNSAFE = /[\\/:*?"<>|\u0000-\u001F\u007F]/g;

/** Sets Content-Disposition: attachment with the person's name (UTF-8) and an ASCII fallback. */
export function attachmentAs(res: Response, name: string, asciiFallback: string): void {
  const safe = name.replace(UNSAFE, '_');
  const ascii = asciiFallback.replace(/[^\x20-\x7E]/g, '_').replace(UNSAFE, '_');
  // encodeURIComponent leaves ' ( ) * ! unescaped; RFC 5987 attr-char does not allow them.
  const encoded = encodeURIComponent(safe).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  res.setHeader('Content-Disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`);
}

/** '2026-12-03' → '1151203', the compact ROC day used in file names. */
export const rocCompact = (isoDay: string): string => `${Number(isoDay.slice(0, 4)) - 1911}${isoDay.slice(5, 7)}${isoDay.slice(8, 10)}`;

/**
 * Starts a workbook download (issue 19): the format is ?format=xlsx|ods, else the Accept header
 * (xlsx by default, as the paths ending in .xlsx promise; an unknown format is a 400 naming
 * `format`); sets the type and the names (given without extension). Answers the format to write.
 */
export function workbookDownload(req: Request, res: Response, name: string, asciiFallback: string): WorkbookFormat {
  const format = workbookFormatOf(req, req.query.format);
  res.setHeader('Content-Type', WORKBOOK_MIME[format]);
  attachmentAs(res, `${name}.${format}`, `${asciiFallback}.${format}`);
  return format;
}
