/**
 * Format-preserving edits of MCP clients' configuration files: Gatehouse adds, updates and removes its own
 * entries (one per MCP server, keyed by name) and leaves every other byte of the file as it was.
 *
 *   const result = await editConfigFile(file, (current) => {
 *     const doc = parseConfig(current, { format: 'json', path: ['mcpServers'], shape: 'map' }, file);
 *     doc.set('fetch', { type: 'http', url });
 *     return doc.text();
 *   });
 */
import { parseJsonc } from './jsonc.js';
import { parseToml } from './toml.js';
import type { ConfigDocument, EntryLocation } from './types.js';
import { parseYaml } from './yaml.js';

export type { ConfigDocument, ConfigFormat, EntryLocation } from './types.js';
export {
  ClientNotInstalledError,
  ConfigEditError,
  ConfigFileError,
  ConfigLockedError,
  ConfigNotAFileError,
  ConfigReadOnlyError,
  ConfigTooLargeError,
  MalformedConfigError,
  displayPath,
} from './errors.js';
export { editConfigFile, type EditOptions, type EditResult } from './safe-edit.js';

/**
 * Parses a client's configuration text (`undefined` or blank: a new file, created with the minimal document
 * holding the location at the first `set`). Throws MalformedConfigError on a syntax error, a root that is not
 * an object/map/table, or a container at `loc.path` of the wrong type; `file` is only used in messages.
 */
export function parseConfig(text: string | undefined, loc: EntryLocation, file: string): ConfigDocument {
  if (loc.path.length === 0) throw new TypeError('EntryLocation.path must name at least one key');
  switch (loc.format) {
    case 'json':
      return parseJsonc(text, loc, file);
    case 'yaml':
      return parseYaml(text, loc, file);
    case 'toml':
      return parseToml(text, loc, file);
  }
}
