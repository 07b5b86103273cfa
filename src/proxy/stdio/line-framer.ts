import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a byte stream into newline-delimited frames (the stdio MCP framing).
 * A frame longer than maxFrameBytes is dropped and reported instead of growing memory forever.
 */
export class LineFramer {
  private buffered = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOversize: (bytes: number) => void = () => {},
    private readonly maxFrameBytes = 64 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    let text = this.buffered + this.decoder.write(chunk);
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      const line = text.slice(0, nl).replace(/\r$/, '');
      if (line.trim() !== '') this.onLine(line);
      text = text.slice(nl + 1);
      nl = text.indexOf('\n');
    }
    if (text.length > this.maxFrameBytes) {
      this.onOversize(text.length);
      text = '';
    }
    this.buffered = text;
  }

  /** Flushes a final unterminated frame when the stream ends. */
  end(): void {
    const rest = (this.buffered + this.decoder.end()).trim();
    this.buffered = '';
    if (rest !== '') this.onLine(rest);
  }
}
