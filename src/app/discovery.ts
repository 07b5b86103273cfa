import fs from 'node:fs';
export { isProcessAlive } from '../common/index.js';
import { z } from 'zod';

/** What a running core publishes so the CLI, the bridge and the UI can find it. Readable by the user only. */
export const DiscoverySchema = z.object({
  url: z.string().url(),
  token: z.string().min(32),
  pid: z.number().int(),
  startedAt: z.string(),
  version: z.string(),
});
export type Discovery = z.infer<typeof DiscoverySchema>;

export function writeDiscovery(file: string, d: Discovery): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(d, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readDiscovery(file: string): Discovery | undefined {
  try {
    return DiscoverySchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

