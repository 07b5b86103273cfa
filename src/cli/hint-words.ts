import type { ErrorHint } from '../api/browser.js';

/** An error hint as the command line says it: the command to type. */
export function hintWords(hint: ErrorHint): string {
  switch (hint.action) {
    case 'list-servers':
      return 'See: gatehouse ls';
    case 'choose-another-name':
      return `Choose another --name, or remove it: gatehouse rm ${hint.server}`;
    case 'stop-server':
      return `Stop it first (gatehouse stop ${hint.server}) or use --force.`;
    case 'start-server':
      return `Start it with: gatehouse start ${hint.server}`;
    case 'force':
      return 'Use --force to do it anyway.';
    case 'set-secret':
      return `Set it with: gatehouse secret set ${hint.secret}`;
    case 'add-idp':
      return `Create it with: gatehouse idp add ${hint.profile} --issuer URL`;
    case 'list-policies':
      return 'See: gatehouse policy ls';
    case 'policy-history':
      return `See: gatehouse policy history ${hint.policySet}`;
    case 'detach-policy':
      return `Detach it first: gatehouse policy detach --server ${hint.servers[0] ?? 'NAME'}`;
    case 'install-client':
      return `Install it and open it once, then run: gatehouse client setup ${hint.client}`;
    case 'stop-core':
      return 'Stop it first with: gatehouse shutdown';
    case 'retry':
      return 'Try again in a moment.';
    case 'sign-in':
      return `Sign in with: gatehouse login ${hint.server}`;
  }
}

/** The message of an error with its hint, if it has one, as the CLI prints it. */
export function errorWords(err: unknown): string {
  const message = (err as Error).message;
  const hint = (err as { hint?: ErrorHint }).hint;
  return hint ? `${message} ${hintWords(hint)}` : message;
}
