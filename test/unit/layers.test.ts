// The layers (README "Architecture"): routes → service → repo, rules pure, no arrow back. Read
// from the source: a service, repo or rules module that imports the web layer or Express, or a
// repo that imports a service, fails here.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../server');
const importsOf = (file: string): string[] =>
  [...fs.readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]);
const domainFiles = (): string[] =>
  fs.readdirSync(SERVER, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'web')
    .flatMap((d) => fs.readdirSync(path.join(SERVER, d.name)).filter((f) => /(^|-)(service|repo|rules)\.ts$|^(service|repo|rules)-/.test(f)).map((f) => path.join(SERVER, d.name, f)));

describe('layers: routes → service → repo, no arrow back', () => {
  it('finds the services, repos and rules of every capability', () => {
    const names = domainFiles().map((f) => path.relative(SERVER, f));
    expect(names).to.include.members(['queries/service.ts', 'queries/repo.ts', 'queries/rules.ts', 'checks/service.ts', 'checks/repo.ts', 'accounts/service.ts']);
  });
  it('no service, repo or rules module imports the web layer or Express', () => {
    const bad = domainFiles().flatMap((f) => importsOf(f).filter((i) => /(^|\/)web\//.test(i) || i === 'express').map((i) => `${path.relative(SERVER, f)} → ${i}`));
    expect(bad).to.deep.equal([]);
  });
  it('no repo imports a service, and no rules module imports a service or repo', () => {
    const bad = domainFiles().flatMap((f) => {
      const base = path.basename(f);
      const forbidden = /repo/.test(base) ? /service/ : /rules/.test(base) ? /service|repo/ : null;
      return forbidden ? importsOf(f).filter((i) => forbidden.test(path.basename(i))).map((i) => `${path.relative(SERVER, f)} → ${i}`) : [];
    });
    expect(bad).to.deep.equal([]);
  });
});
