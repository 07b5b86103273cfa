// One benchmark's section of BENCHMARKS.md, between its markers `<!-- bench:NAME:start -->` and
// `<!-- bench:NAME:end -->`: replaced on every run (appended the first time), every other section kept.
import fs from 'node:fs';

export function writeBenchSection(file: string, name: string, body: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const a = current.indexOf(start);
  const b = current.indexOf(end);
  const text = a !== -1 && b > a ? current.slice(0, a) + section + current.slice(b + end.length) : `${current.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}
