// The SMTP server process of test/support/smtp.ts: argv dir, port (0: any free port). Each accepted
// message is written as NNN.eml with its envelope in NNN.json; prints "listening PORT".
import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';

const [dir, portArg] = process.argv.slice(2);
let n = fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).length;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  size: 10 * 1024 * 1024,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      const name = `${String(process.pid).padStart(8, '0')}-${String(++n).padStart(7, '0')}`;
      // The envelope first, then the message: a reader that sees the .eml always finds its envelope.
      fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ from: session.envelope.mailFrom?.address, to: session.envelope.rcptTo.map((r) => r.address) }));
      fs.writeFileSync(path.join(dir, `${name}.eml`), Buffer.concat(chunks));
      callback();
    });
  },
});
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write(`listening ${server.server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
