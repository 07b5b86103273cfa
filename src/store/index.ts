import type { Db } from './database.js';
import { openDatabase } from './database.js';
import { AuthServerIndexRepository } from './authserver-index.js';
import { ClientEntriesRepository, ClientRegistrationsRepository } from './client-registrations.js';
import { EncryptedValuesRepository } from './encrypted-values.js';
import { IdpProfilesRepository } from './idp-profiles.js';
import { LogsRepository } from './logs.js';
import { PolicyCasesRepository } from './policy-cases.js';
import { PolicySetsRepository } from './policy-sets.js';
import { ServerFeaturesRepository } from './server-features.js';
import { ServersRepository } from './servers.js';
import { StatusHistoryRepository } from './status-history.js';
import { SettingsRepository } from './settings.js';

export { openDatabase, schemaVersion, type Db } from './database.js';
export { appDataDir, appPaths, type AppPaths } from './paths.js';
export * from './servers.js';
export * from './status-history.js';
export * from './logs.js';
export * from './encrypted-values.js';
export * from './idp-profiles.js';
export * from './policy-sets.js';
export * from './policy-cases.js';
export * from './client-registrations.js';
export * from './server-features.js';
export * from './settings.js';
export * from './authserver-index.js';

/** All repositories over one database connection. */
export interface Store {
  db: Db;
  servers: ServersRepository;
  statusHistory: StatusHistoryRepository;
  logs: LogsRepository;
  encrypted: EncryptedValuesRepository;
  idps: IdpProfilesRepository;
  policies: PolicySetsRepository;
  policyCases: PolicyCasesRepository;
  clientRegistrations: ClientRegistrationsRepository;
  clientEntries: ClientEntriesRepository;
  serverFeatures: ServerFeaturesRepository;
  settings: SettingsRepository;
  authServerIndex: AuthServerIndexRepository;
  close(): void;
}

export function openStore(file: string): Store {
  const db = openDatabase(file);
  return {
    db,
    servers: new ServersRepository(db),
    statusHistory: new StatusHistoryRepository(db),
    logs: new LogsRepository(db),
    encrypted: new EncryptedValuesRepository(db),
    idps: new IdpProfilesRepository(db),
    policies: new PolicySetsRepository(db),
    policyCases: new PolicyCasesRepository(db),
    clientRegistrations: new ClientRegistrationsRepository(db),
    clientEntries: new ClientEntriesRepository(db),
    serverFeatures: new ServerFeaturesRepository(db),
    settings: new SettingsRepository(db),
    authServerIndex: new AuthServerIndexRepository(db),
    close: () => db.close(),
  };
}
