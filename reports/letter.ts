// The covering letter (函) of the annual filing as an OpenDocument text (.odt, issue 19): laid out
// in the order of the 文書處理手冊 (機關全銜＋文別, 受文者, 發文日期, 發文字號, 速別, 密等及解密條件,
// 附件, 主旨, 說明, 正本, 署名). The filer edits it before sending, so it is ODF, not PDF.
// The package pieces (manifest, meta, escaping, paragraphs) are those of reports/ods.ts.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { ODT_MIME, cleanText, inlineText, manifest, metaXml, xmlns } from './ods.ts';

const require = createRequire(import.meta.url);
const archiver: (format: 'zip', options: object) => { append(s: Buffer | string, d: { name: string; store?: boolean }): void; pipe(d: NodeJS.WritableStream): void; finalize(): Promise<void> } = require('archiver');

export interface LetterFields {
  /** 發文機關 (全銜) */
  agency: string;
  /** 受文者 */
  recipient: string;
  /** 發文日期, already in ROC words (中華民國115年1月20日) */
  date: string;
  /** 發文字號, typed by the filer */
  number: string;
  /** 速別 */
  speed: string;
  /** 密等及解密條件 */
  secrecy: string;
  /** 附件: lines (the workbook's name, its SHA-256, the chain head) */
  attachments: string[];
  /** 主旨 */
  subject: string;
  /** 說明: numbered items */
  explanation: string[];
  /** 正本 */
  copyTo: string;
}

const NUMERALS = ['一', '二', '三', '四', '五', '六', '七', '八', '九', '十'];

function content(f: LetterFields): string {
  // Lines of one field stay in its paragraph, under its label.
  const p = (style: string, text: string) => `<text:p text:style-name="${style}">${cleanText(text).split('\n').map(inlineText).join('<text:line-break/>')}</text:p>`;
  const field = (label: string, value: string) => p('Field', `${label}：${value}`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content${xmlns('office', 'style', 'text', 'fo', 'svg')} office:version="1.3"><office:body><office:text>`
    + p('Title', `${f.agency}　函`)
    + field('受文者', f.recipient)
    + field('發文日期', f.date)
    + field('發文字號', f.number)
    + field('速別', f.speed)
    + field('密等及解密條件或保密期限', f.secrecy)
    + field('附件', f.attachments.join('\n'))
    + p('Heading', '')
    + p('Body', `主旨：${f.subject}`)
    + p('Body', '說明：')
    + f.explanation.map((e, i) => p('Item', `${NUMERALS[i] ?? String(i + 1)}、${e}`)).join('')
    + p('Heading', '')
    + field('正本', f.copyTo)
    + field('副本', '')
    + p('Signature', '（機關首長署名）')
    + '</office:text></office:body></office:document-content>';
}

/** A4 portrait, 2.5 cm margins, Noto Sans CJK TC; the title large and centred, the items hanging. */
function styles(): string {
  const text = (size: number, bold = false) => `<style:text-properties style:font-name="Noto Sans CJK TC" style:font-name-asian="Noto Sans CJK TC" fo:font-size="${size}pt" style:font-size-asian="${size}pt"${bold ? ' fo:font-weight="bold" style:font-weight-asian="bold"' : ''} fo:language="zh" fo:country="TW" style:language-asian="zh" style:country-asian="TW"/>`;
  const para = (name: string, props: string, size: number, bold = false) => `<style:style style:name="${name}" style:family="paragraph"><style:paragraph-properties ${props}/>${text(size, bold)}</style:style>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<office:document-styles${xmlns('office', 'style', 'text', 'fo', 'svg')} office:version="1.3">`
    + '<office:font-face-decls><style:font-face style:name="Noto Sans CJK TC" svg:font-family="\'Noto Sans CJK TC\'" style:font-family-generic="swiss"/></office:font-face-decls>'
    + '<office:styles>'
    + para('Title', 'fo:text-align="center" fo:margin-bottom="0.4cm"', 20, true)
    + para('Field', 'fo:margin-bottom="0.1cm"', 12)
    + para('Heading', 'fo:margin-bottom="0.2cm"', 12)
    + para('Body', 'fo:margin-bottom="0.2cm" fo:margin-left="1.6cm" fo:text-indent="-1.6cm"', 14)
    + para('Item', 'fo:margin-bottom="0.1cm" fo:margin-left="2.4cm" fo:text-indent="-0.8cm"', 14)
    + para('Signature', 'fo:text-align="end" fo:margin-top="1cm"', 14)
    + '</office:styles>'
    + '<office:automatic-styles><style:page-layout style:name="A4"><style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm" style:print-orientation="portrait" fo:margin-left="2.5cm" fo:margin-right="2.5cm" fo:margin-top="2.5cm" fo:margin-bottom="2.5cm"/></style:page-layout></office:automatic-styles>'
    + '<office:master-styles><style:master-page style:name="Standard" style:page-layout-name="A4"/></office:master-styles></office:document-styles>';
}

/** Writes the letter to a stream (an HTTP answer) or a file. */
export async function writeLetter(f: LetterFields, target: { filename: string } | { stream: NodeJS.WritableStream }, creator: string, at: Date): Promise<void> {
  const zip = archiver('zip', { zlib: { level: 6 } });
  const out = 'filename' in target ? fs.createWriteStream(target.filename) : target.stream;
  const closed = 'filename' in target ? once(out, 'close') : Promise.resolve();
  zip.pipe(out);
  zip.append(Buffer.from(ODT_MIME), { name: 'mimetype', store: true });
  zip.append(manifest(ODT_MIME, ['content.xml', 'styles.xml', 'meta.xml']), { name: 'META-INF/manifest.xml' });
  zip.append(metaXml(creator, at, 'zh-TW'), { name: 'meta.xml' });
  zip.append(styles(), { name: 'styles.xml' });
  zip.append(content(f), { name: 'content.xml' });
  await zip.finalize();
  await closed;
}
