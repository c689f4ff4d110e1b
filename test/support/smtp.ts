// A real SMTP server in its own process (smtp-server), for mail tests: every message it accepts is
// written to a directory as a raw .eml file, and read back with mailparser.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser, type ParsedMail } from 'mailparser';

const here = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.join(here, 'smtp-child.mjs');

export interface SmtpSink {
  port: number;
  dir: string;
  url: string;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop), keeping what it received. */
  restart(): Promise<void>;
  messages(): Promise<Array<ParsedMail & { envelopeTo: string[]; raw: string }>>;
}

function launch(dir: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, dir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      const m = /^listening (\d+)$/m.exec(buf);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`smtp child exited ${code}`)));
  });
}

export async function startSmtp(): Promise<SmtpSink> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-smtp-'));
  let { child, port } = await launch(dir, 0);
  const stop = () => new Promise<void>((resolve) => {
    if (child.exitCode != null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  return {
    port, dir, url: `smtp://127.0.0.1:${port}`,
    stop,
    async restart() {
      await stop();
      ({ child } = await launch(dir, port));
    },
    async messages() {
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
      return Promise.all(files.map(async (f) => {
        const raw = fs.readFileSync(path.join(dir, f), 'utf8');
        const env = JSON.parse(fs.readFileSync(path.join(dir, f.replace(/\.eml$/, '.json')), 'utf8'));
        return Object.assign(await simpleParser(raw), { envelopeTo: env.to as string[], raw });
      }));
    },
  };
}
