// A checkpoint signing key pair in a temporary directory, with a witness directory beside it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Keys { dir: string; privateFile: string; publicFile: string; witness: string; publicPem: string }

export function makeKeys(name = 'checkpoint'): Keys {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-cp-'));
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const privateFile = path.join(dir, `${name}.pem`);
  const publicFile = path.join(dir, `${name}.pub.pem`);
  fs.writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const publicPem = String(publicKey.export({ type: 'spki', format: 'pem' }));
  fs.writeFileSync(publicFile, publicPem);
  return { dir, privateFile, publicFile, witness: path.join(dir, 'witness'), publicPem };
}
