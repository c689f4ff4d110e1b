// OpenDocument spreadsheets (.ods, ODF 1.3, CNS 15251) written as a stream, and read back for the
// verifier (issue 19). No kept npm library writes large ODS as a stream, so the XML is written here,
// in this one module, and the tests prove it with LibreOffice and the OASIS RelaxNG schema.
//
// OdsWorkbook implements the part of exceljs' streaming WorkbookWriter our workbooks use
// (addWorksheet, columns, addRow, getCell().value/font/alignment, row height, commit), so the same
// writing code (reports/cells.ts: streamingWorkbook, openWorkbookFile) makes either format.
// A sheet's rows go to a temporary file as they are committed (memory stays flat); commit() then
// writes the zip: `mimetype` first and stored, the manifest, meta, settings (frozen header rows),
// styles (A4 pages, footer) and content.xml assembled from the sheets' files in sheet order — the
// cover sheet is written last and shown first, which a single streamed content.xml could not do.
// Text cells are always office:value-type="string": nothing in an .ods cell is ever a formula.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { SaxesParser } from 'saxes';

const require = createRequire(import.meta.url);
// exceljs' own zip writer and reader (dependencies of exceljs, listed in package.json too).
interface Archiver {
  append(source: Buffer | string | NodeJS.ReadableStream, data: { name: string; store?: boolean }): void;
  pipe(dest: NodeJS.WritableStream): void;
  finalize(): Promise<void>;
  on(event: 'error' | 'warning', cb: (e: Error) => void): void;
}
const archiver: (format: 'zip', options: object) => Archiver = require('archiver');
interface ZipEntry { path: string; stream(): NodeJS.ReadableStream; buffer(): Promise<Buffer> }
const unzipper: { Open: { file(path: string): Promise<{ files: ZipEntry[] }> } } = require('unzipper');

export const ODS_MIME = 'application/vnd.oasis.opendocument.spreadsheet';
export const ODT_MIME = 'application/vnd.oasis.opendocument.text';

// ---------------------------------------------------------------------------------------------
// XML text

const NS = {
  office: 'urn:oasis:names:tc:opendocument:xmlns:office:1.0', style: 'urn:oasis:names:tc:opendocument:xmlns:style:1.0',
  text: 'urn:oasis:names:tc:opendocument:xmlns:text:1.0', table: 'urn:oasis:names:tc:opendocument:xmlns:table:1.0',
  fo: 'urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0', svg: 'urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0',
  meta: 'urn:oasis:names:tc:opendocument:xmlns:meta:1.0', dc: 'http://purl.org/dc/elements/1.1/',
  config: 'urn:oasis:names:tc:opendocument:xmlns:config:1.0', manifest: 'urn:oasis:names:tc:opendocument:xmlns:manifest:1.0',
  number: 'urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0',
} as const;
export const xmlns = (...names: Array<keyof typeof NS>): string => names.map((n) => ` xmlns:${n}="${NS[n]}"`).join('');

export const escapeXml = (s: string): string => (/[&<>"]/.test(s) ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;') : s);

/**
 * One line of text as ODF paragraph content: a tab is <text:tab/>, and spaces that ODF's
 * white-space rule would collapse or drop (leading, trailing, more than one) are <text:s/>, so the
 * text reads back exactly as written.
 */
export function inlineText(line: string): string {
  // Each tab-separated piece on its own: a space next to a tab counts as at the edge.
  return line.split('\t').map((piece) => escapeXml(piece).replace(/ +/g, (run: string, offset: number, all: string) => {
    const edge = offset === 0 || offset + run.length === all.length;
    if (!edge && run.length === 1) return ' ';
    return edge ? spaces(run.length) : ' ' + spaces(run.length - 1);
  })).join('<text:tab/>');
}
const spaces = (n: number): string => (n === 1 ? '<text:s/>' : `<text:s text:c="${n}"/>`);

/** A cell's text as paragraphs: one <text:p> per line. */
export const paragraphs = (s: string): string => s.split('\n').map((l) => `<text:p>${inlineText(l)}</text:p>`).join('');

// ---------------------------------------------------------------------------------------------
// The writer (the exceljs subset)

interface Font { bold?: boolean; size?: number }
interface Alignment { wrapText?: boolean; vertical?: string; horizontal?: string }
interface SheetOptions {
  views?: Array<{ state?: string; ySplit?: number }>;
  pageSetup?: { orientation?: 'portrait' | 'landscape'; printTitlesRow?: string };
}

export class OdsCell {
  value: unknown = null;
  font: Font | undefined;
  alignment: Alignment | undefined;
}

export class OdsRow {
  private readonly cells: OdsCell[] = [];
  height: number | undefined;
  constructor(private readonly sheet: OdsSheet) {}
  getCell(n: number): OdsCell {
    return (this.cells[n - 1] ??= new OdsCell());
  }
  set font(f: Font) {
    for (const c of this.cells) if (c) c.font = f;
  }
  eachCell(cb: (cell: OdsCell, n: number) => void): void {
    this.cells.forEach((c, i) => c && c.value != null && c.value !== '' && cb(c, i + 1));
  }
  commit(): void {
    this.sheet.writeRow(this.cells, this.height);
  }
}

/** Bytes buffered before a sheet's text goes to its file. */
const FLUSH_AT = 256 * 1024;

export class OdsSheet {
  private cols: Array<{ width?: number }> = [];
  private buf = '';
  private readonly file: fs.WriteStream;
  private draining: Promise<unknown> | null = null;
  rowCount = 0;
  maxColumns = 0;
  readonly frozenRows: number;
  readonly orientation: 'portrait' | 'landscape';
  readonly titleRows: number;
  committed = false;
  constructor(private readonly book: OdsWorkbook, readonly name: string, readonly filePath: string, opts: SheetOptions = {}) {
    this.file = fs.createWriteStream(filePath);
    this.frozenRows = opts.views?.find((v) => v.state === 'frozen')?.ySplit ?? 0;
    this.orientation = opts.pageSetup?.orientation ?? 'portrait';
    const titles = /^(\d+):(\d+)$/.exec(opts.pageSetup?.printTitlesRow ?? '');
    this.titleRows = titles ? Number(titles[2]) : 0;
  }
  get columns(): Array<{ width?: number }> {
    return this.cols;
  }
  set columns(c: Array<{ width?: number }>) {
    this.cols = c.map((x) => ({ width: x.width }));
  }
  addRow(values: unknown[] = []): OdsRow {
    const row = new OdsRow(this);
    values.forEach((v, i) => (row.getCell(i + 1).value = v));
    return row;
  }
  /** Serialises a committed row; the header rows (printTitlesRow) are marked to repeat on every printed page. */
  writeRow(cells: OdsCell[], height: number | undefined): void {
    this.rowCount++;
    let last = cells.length;
    while (last > 0 && isEmpty(cells[last - 1])) last--;
    this.maxColumns = Math.max(this.maxColumns, last);
    let xml = height ? `<table:table-row table:style-name="${this.book.rowStyle(height)}">` : '<table:table-row>';
    for (let i = 0; i < last; i++) xml += this.book.cellXml(cells[i]);
    xml += last === 0 ? '<table:table-cell/></table:table-row>' : '</table:table-row>';
    if (this.titleRows && this.rowCount === 1) xml = '<table:table-header-rows>' + xml;
    if (this.titleRows && this.rowCount === this.titleRows) xml += '</table:table-header-rows>';
    this.buf += xml;
    if (this.buf.length > FLUSH_AT) this.flush();
  }
  private flush(): void {
    if (!this.buf) return;
    const ok = this.file.write(this.buf);
    this.buf = '';
    if (!ok && !this.draining) this.draining = once(this.file, 'drain').then(() => (this.draining = null));
  }
  /** Waits while the sheet's file has not taken what was written (backpressure). */
  async drain(): Promise<void> {
    if (this.draining) await this.draining;
  }
  commit(): void {
    if (this.titleRows && this.rowCount > 0 && this.rowCount < this.titleRows) this.buf += '</table:table-header-rows>';
    if (this.rowCount === 0) this.buf += '<table:table-row><table:table-cell/></table:table-row>';
    this.flush();
    this.committed = true;
    this.closed = new Promise((resolve, reject) => this.file.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
  closed: Promise<void> | null = null;
  columnXml(): string {
    const cols = this.cols.length ? this.cols : [{ width: 10 }];
    return cols.map((c) => `<table:table-column table:style-name="${this.book.columnStyle(c.width ?? 10)}"/>`).join('');
  }
}

const isEmpty = (c: OdsCell | undefined): boolean => !c || c.value == null || c.value === '';

/** exceljs' column width (characters of the default font) in centimetres. */
const CM_PER_CHAR = 0.2;

export class OdsWorkbook {
  creator = 'NHI Query Audit';
  created = new Date();
  language = 'zh-TW';
  /** 1-based like exceljs' own list, so code that reorders the sheets works on either writer. */
  readonly _worksheets: Array<OdsSheet | undefined> = [undefined];
  private readonly dir: string;
  private readonly cellStyles = new Map<string, string>();
  private readonly rowStyles = new Map<number, string>();
  private readonly colStyles = new Map<string, string>();
  constructor(private readonly target: { filename: string } | { stream: NodeJS.WritableStream }) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-ods-'));
  }
  addWorksheet(name: string, opts?: SheetOptions): OdsSheet {
    const ws = new OdsSheet(this, name, path.join(this.dir, `sheet-${this._worksheets.length}.xml`), opts);
    this._worksheets.push(ws);
    return ws;
  }
  rowStyle(height: number): string {
    let s = this.rowStyles.get(height);
    if (!s) this.rowStyles.set(height, (s = `ro${this.rowStyles.size + 1}`));
    return s;
  }
  columnStyle(width: number): string {
    const cm = (width * CM_PER_CHAR).toFixed(3);
    let s = this.colStyles.get(cm);
    if (!s) this.colStyles.set(cm, (s = `co${this.colStyles.size + 1}`));
    return s;
  }
  private cellStyle(font: Font | undefined, al: Alignment | undefined): string | null {
    const key = `${font?.bold ? 'b' : ''}${font?.size && font.size !== 11 ? font.size : ''}|${al?.wrapText ? 'w' : ''}${al?.vertical === 'top' ? 't' : ''}${al?.horizontal === 'left' ? 'l' : ''}`;
    if (key === '|') return null;
    let s = this.cellStyles.get(key);
    if (!s) this.cellStyles.set(key, (s = `ce${this.cellStyles.size + 1}`));
    return s;
  }
  cellXml(c: OdsCell | undefined): string {
    if (!c) return '<table:table-cell/>';
    const style = c.font || c.alignment ? this.cellStyle(c.font, c.alignment) : null;
    const st = style ? ` table:style-name="${style}"` : '';
    const v = c.value;
    if (v == null || v === '') return st ? `<table:table-cell${st}/>` : '<table:table-cell/>';
    if (typeof v === 'number' && Number.isFinite(v)) return `<table:table-cell${st} office:value-type="float" office:value="${v}"><text:p>${v}</text:p></table:table-cell>`;
    if (typeof v === 'boolean') return `<table:table-cell${st} office:value-type="boolean" office:boolean-value="${v}"><text:p>${v ? 'TRUE' : 'FALSE'}</text:p></table:table-cell>`;
    if (v instanceof Date) return `<table:table-cell${st} office:value-type="date" office:date-value="${v.toISOString().slice(0, 19)}"><text:p>${v.toISOString().slice(0, 10)}</text:p></table:table-cell>`;
    return `<table:table-cell${st} office:value-type="string">${paragraphs(cleanText(textOf(v)))}</table:table-cell>`;
  }

  private automaticStyles(sheets: OdsSheet[]): string {
    let x = '<office:automatic-styles>';
    for (const [cm, name] of this.colStyles) x += `<style:style style:name="${name}" style:family="table-column"><style:table-column-properties fo:break-before="auto" style:column-width="${cm}cm"/></style:style>`;
    for (const [h, name] of this.rowStyles) x += `<style:style style:name="${name}" style:family="table-row"><style:table-row-properties style:row-height="${h}pt" fo:break-before="auto" style:use-optimal-row-height="false"/></style:style>`;
    for (const o of new Set(sheets.map((s) => s.orientation))) x += `<style:style style:name="ta-${o}" style:family="table" style:master-page-name="${o}"><style:table-properties table:display="true" style:writing-mode="lr-tb"/></style:style>`;
    for (const [key, name] of this.cellStyles) {
      const [f, a] = key.split('|');
      const size = /\d+/.exec(f)?.[0];
      const text = (f.includes('b') ? ' fo:font-weight="bold" style:font-weight-asian="bold" style:font-weight-complex="bold"' : '') + (size ? ` fo:font-size="${size}pt" style:font-size-asian="${size}pt" style:font-size-complex="${size}pt"` : '');
      const cell = (a.includes('w') ? ' fo:wrap-option="wrap"' : '') + (a.includes('t') ? ' style:vertical-align="top"' : '');
      x += `<style:style style:name="${name}" style:family="table-cell" style:parent-style-name="Default">${cell ? `<style:table-cell-properties${cell}/>` : ''}${a.includes('l') ? '<style:paragraph-properties fo:text-align="start"/>' : ''}${text ? `<style:text-properties${text}/>` : ''}</style:style>`;
    }
    return x + '</office:automatic-styles>';
  }

  private async *content(sheets: OdsSheet[]): AsyncGenerator<Buffer | string> {
    // Every sheet's column styles must be known before the automatic styles are written.
    const tables = sheets.map((s) => s.columnXml());
    yield `<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content${xmlns('office', 'style', 'text', 'table', 'fo', 'svg', 'number')} office:version="1.3">`;
    yield '<office:font-face-decls/>' + this.automaticStyles(sheets) + '<office:body><office:spreadsheet>';
    for (let i = 0; i < sheets.length; i++) {
      const s = sheets[i];
      const cols = Math.max(1, s.maxColumns, s.columns.length);
      const range = `'${s.name.replace(/'/g, "''")}'.A1:'${s.name.replace(/'/g, "''")}'.${columnName(cols)}${Math.max(1, s.rowCount)}`;
      yield `<table:table table:name="${escapeXml(s.name)}" table:style-name="ta-${s.orientation}" table:print-ranges="${escapeXml(range)}">${tables[i]}`;
      for await (const chunk of fs.createReadStream(s.filePath)) yield chunk as Buffer;
      yield '</table:table>';
    }
    yield '</office:spreadsheet></office:body></office:document-content>';
  }

  /** Removes the sheets' temporary files of a workbook that will not be committed (its writing failed). */
  discard(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  async commit(): Promise<void> {
    const sheets = this._worksheets.filter((s): s is OdsSheet => !!s);
    try {
      for (const s of sheets) if (!s.committed) s.commit();
      await Promise.all(sheets.map((s) => s.closed));
      // Level 1: content.xml is deflated after the rows are written (not alongside, as exceljs does), so speed matters more than size here.
      const zip = archiver('zip', { zlib: { level: 1 } });
      const out = 'filename' in this.target ? fs.createWriteStream(this.target.filename) : this.target.stream;
      const done = 'filename' in this.target ? once(out, 'close') : Promise.resolve();
      const failed = new Promise<never>((_, reject) => zip.on('error', reject));
      zip.pipe(out);
      zip.append(Buffer.from(ODS_MIME), { name: 'mimetype', store: true });
      zip.append(manifest(ODS_MIME, ['content.xml', 'styles.xml', 'meta.xml', 'settings.xml']), { name: 'META-INF/manifest.xml' });
      zip.append(metaXml(this.creator, this.created, this.language), { name: 'meta.xml' });
      zip.append(settingsXml(sheets), { name: 'settings.xml' });
      zip.append(stylesXml(), { name: 'styles.xml' });
      zip.append(Readable.from(this.content(sheets)), { name: 'content.xml' });
      await Promise.race([zip.finalize(), failed]);
      await Promise.race([done, failed]);
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

const textOf = (v: unknown): string => (typeof v === 'object' && v && 'richText' in v ? (v as { richText: Array<{ text: string }> }).richText.map((r) => r.text).join('') : String(v));

// C0 controls other than tab and line feed, U+FFFE/FFFF and lone surrogates cannot be in XML 1.0.
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/**
 * The text a cell holds in either format: CR LF and CR become LF, other control characters and
 * lone surrogates are dropped. The sheet hashes are computed over this text (reports/annual.ts),
 * so a value reads back from .xlsx and .ods alike. The inputs refuse these characters already.
 */
export function cleanText(s: string): string {
  if (s.includes('\r')) s = s.replace(/\r\n?/g, '\n');
  return NOT_XML.test(s) ? s.replace(NOT_XML, '') : s;
}

export function columnName(n: number): string {
  let s = '';
  for (; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

export function manifest(mime: string, files: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest${xmlns('manifest')} manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:version="1.3" manifest:media-type="${mime}"/>${files.map((f) => `<manifest:file-entry manifest:full-path="${f}" manifest:media-type="text/xml"/>`).join('')}</manifest:manifest>`;
}

export function metaXml(creator: string, created: Date, language: string): string {
  const at = created.toISOString().slice(0, 19);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<office:document-meta${xmlns('office', 'meta', 'dc')} office:version="1.3"><office:meta><meta:generator>NHI Query Audit</meta:generator><meta:initial-creator>${escapeXml(creator)}</meta:initial-creator><meta:creation-date>${at}</meta:creation-date><dc:language>${language}</dc:language></office:meta></office:document-meta>`;
}

/** Frozen header rows per sheet, as LibreOffice reads them from settings.xml. */
function settingsXml(sheets: OdsSheet[]): string {
  const item = (n: string, t: string, v: string | number) => `<config:config-item config:name="${n}" config:type="${t}">${v}</config:config-item>`;
  const tables = sheets.filter((s) => s.frozenRows > 0).map((s) => `<config:config-item-map-entry config:name="${escapeXml(s.name)}">${
    item('HorizontalSplitMode', 'short', 0) + item('VerticalSplitMode', 'short', 2) + item('HorizontalSplitPosition', 'int', 0) + item('VerticalSplitPosition', 'int', s.frozenRows)
    + item('ActiveSplitRange', 'short', 2) + item('PositionLeft', 'int', 0) + item('PositionRight', 'int', 0) + item('PositionTop', 'int', 0) + item('PositionBottom', 'int', s.frozenRows)
  }</config:config-item-map-entry>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<office:document-settings${xmlns('office', 'config')} office:version="1.3"><office:settings><config:config-item-set config:name="ooo:view-settings"><config:config-item-map-indexed config:name="Views"><config:config-item-map-entry>${item('ViewId', 'string', 'view1')}<config:config-item-map-named config:name="Tables">${tables || '<config:config-item-map-entry config:name="_"/>'}</config:config-item-map-named></config:config-item-map-entry></config:config-item-map-indexed></config:config-item-set></office:settings></office:document-settings>`;
}

/** The default cell style (Traditional Chinese, Noto Sans CJK TC for the Chinese glyphs) and the two A4 master pages. */
function stylesXml(): string {
  const footer = '<style:footer><style:region-left><text:p><text:sheet-name>???</text:sheet-name></text:p></style:region-left><style:region-right><text:p>第 <text:page-number>1</text:page-number> 頁／共 <text:page-count>1</text:page-count> 頁</text:p></style:region-right></style:footer>';
  const layout = (o: 'portrait' | 'landscape') => `<style:page-layout style:name="pl-${o}"><style:page-layout-properties fo:page-width="${o === 'portrait' ? '21cm' : '29.7cm'}" fo:page-height="${o === 'portrait' ? '29.7cm' : '21cm'}" style:print-orientation="${o}" fo:margin-left="1cm" fo:margin-right="1cm" fo:margin-top="1.5cm" fo:margin-bottom="1.5cm" style:scale-to-X="1" style:scale-to-Y="0"/></style:page-layout>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<office:document-styles${xmlns('office', 'style', 'text', 'table', 'fo', 'svg')} office:version="1.3">`
    + '<office:font-face-decls><style:font-face style:name="Noto Sans CJK TC" svg:font-family="\'Noto Sans CJK TC\'" style:font-family-generic="swiss"/></office:font-face-decls>'
    + '<office:styles><style:default-style style:family="table-cell"><style:text-properties style:font-name="Noto Sans CJK TC" style:font-name-asian="Noto Sans CJK TC" style:font-name-complex="Noto Sans CJK TC" fo:font-size="11pt" style:font-size-asian="11pt" fo:language="zh" fo:country="TW" style:language-asian="zh" style:country-asian="TW"/></style:default-style>'
    + '<style:style style:name="Default" style:family="table-cell"/></office:styles>'
    + `<office:automatic-styles>${layout('portrait')}${layout('landscape')}</office:automatic-styles>`
    + `<office:master-styles><style:master-page style:name="portrait" style:page-layout-name="pl-portrait">${footer}</style:master-page><style:master-page style:name="landscape" style:page-layout-name="pl-landscape">${footer}</style:master-page></office:master-styles></office:document-styles>`;
}

// ---------------------------------------------------------------------------------------------
// Reading back (the verifier): each table's canonical rows, streamed

export interface OdsTable { name: string; index: number }

/**
 * Streams the tables of an .ods file: for each table, calls `row(table, cells)` with the text of
 * every row (a cell's text as the spreadsheet holds it: a number's office:value in String(n) form,
 * text with its lines joined by LF). Repeated rows and cells (as LibreOffice saves them) are
 * expanded, except trailing empty ones.
 */
export async function readOds(file: string, row: (t: OdsTable, cells: string[]) => void, table?: (t: OdsTable) => void): Promise<void> {
  const dir = await unzipper.Open.file(file);
  const entry = dir.files.find((f) => f.path === 'content.xml');
  if (!entry) throw new Error(`${path.basename(file)}: no content.xml (not an OpenDocument file)`);
  const mime = dir.files.find((f) => f.path === 'mimetype');
  if (!mime || (await mime.buffer()).toString() !== ODS_MIME) throw new Error(`${path.basename(file)}: not an OpenDocument spreadsheet`);
  const p = new SaxesParser({ xmlns: false });
  let current: OdsTable | null = null;
  let index = 0;
  let cells: string[] | null = null;
  let rowRepeat = 1;
  let pendingEmpty = 0; // empty rows seen, written only when a later row has content
  let cell: { text: string; paras: number; repeat: number; value: string | null; depth: number } | null = null;
  let inP = 0;
  let annotation = 0;
  p.on('opentag', (t) => {
    const a = t.attributes as Record<string, string>;
    switch (t.name) {
      case 'table:table':
        current = { name: a['table:name'], index: index++ };
        pendingEmpty = 0;
        table?.(current);
        break;
      case 'table:table-row':
        cells = [];
        rowRepeat = Number(a['table:number-rows-repeated'] ?? 1);
        break;
      case 'table:table-cell':
      case 'table:covered-table-cell': {
        const type = a['office:value-type'];
        const value = type === 'float' || type === 'percentage' || type === 'currency' ? String(Number(a['office:value'])) : type === 'boolean' ? a['office:boolean-value'] : type === 'date' ? a['office:date-value'] : type === 'time' ? a['office:time-value'] : null;
        cell = { text: '', paras: 0, repeat: Number(a['table:number-columns-repeated'] ?? 1), value, depth: 0 };
        if (t.isSelfClosing) closeCell();
        break;
      }
      case 'office:annotation':
        annotation++;
        break;
      case 'text:p':
      case 'text:h':
        if (cell && !annotation) {
          if (cell.paras++ > 0) cell.text += '\n';
          inP++;
        }
        break;
      case 'text:s':
        if (cell && inP && !annotation) cell.text += ' '.repeat(Number(a['text:c'] ?? 1));
        break;
      case 'text:tab':
        if (cell && inP && !annotation) cell.text += '\t';
        break;
      case 'text:line-break':
        if (cell && inP && !annotation) cell.text += '\n';
        break;
    }
  });
  const closeCell = () => {
    if (!cell || !cells) return;
    const text = cell.value ?? cell.text;
    for (let i = 0; i < Math.min(cell.repeat, 16384); i++) cells.push(text);
    cell = null;
  };
  p.on('text', (s) => {
    if (cell && inP && !annotation) cell.text += s;
  });
  p.on('closetag', (t) => {
    switch (t.name) {
      case 'text:p':
      case 'text:h':
        if (cell && !annotation) inP--;
        break;
      case 'office:annotation':
        annotation--;
        break;
      case 'table:table-cell':
      case 'table:covered-table-cell':
        if (!t.isSelfClosing) closeCell();
        break;
      case 'table:table-row': {
        if (!current || !cells) break;
        while (cells.length && cells[cells.length - 1] === '') cells.pop();
        if (!cells.length) pendingEmpty += rowRepeat;
        else {
          for (; pendingEmpty > 0; pendingEmpty--) row(current, []);
          for (let i = 0; i < rowRepeat; i++) row(current, cells);
        }
        cells = null;
        break;
      }
    }
  });
  const stream = entry.stream();
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of stream) p.write(decoder.decode(chunk as Buffer, { stream: true }));
  p.close();
}
