/**
 * Opens an http(s) URL in the user's default browser. The URL goes to the OS opener as one argument
 * (the `open` package: `open`, `xdg-open`, `start` without a shell), and nothing but http(s) is opened,
 * so a URL can never become a command or a local file.
 */
export async function openInBrowser(url: string, onFailure: (reason: string) => void = () => {}): Promise<void> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`Refusing to open a ${u.protocol} URL in the browser.`);
  // Loaded on use: most commands never open a browser, and every command pays for what it imports.
  const { default: open } = await import('open');
  const child = await open(u.href, { wait: false });
  // The opener's failure (no browser, no display) is not ours to crash on: the URL is printed too.
  child.on('error', (err) => onFailure(err.message));
  child.on('exit', (code) => code !== 0 && code !== null && onFailure(`the opener exited with code ${code}`));
  child.unref();
}
