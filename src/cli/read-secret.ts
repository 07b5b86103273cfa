import { stdin, stderr } from 'node:process';

/**
 * Reads a secret value: from standard input when it is piped (scripts, `pass show x | gatehouse secret set X`),
 * otherwise from a hidden prompt. Never from argv, where `ps` would show it.
 */
export async function readSecretValue(prompt: string): Promise<string> {
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin as AsyncIterable<Buffer>) chunks.push(c);
    // One trailing newline is how shells end piped text; it is not part of the secret.
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  // Echo goes off before the prompt appears, so nothing typed (or pasted) early is shown.
  stdin.setRawMode(true);
  stderr.write(prompt);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('Cancelled.'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
