import { describe, expect, it } from 'vitest';
import { ProviderTest, tokenPreview } from '../../src/app/auth-server-test.js';
import { parseAuthServerSettings, type TestedIdentity, type UpstreamInteractions, type UpstreamTest } from '../../src/authserver/index.js';

const settings = parseAuthServerSettings({
  issuer: 'http://127.0.0.1:8666',
  upstreamProviders: [{ name: 'corp', type: 'oidc', oidcConfig: { issuerUrl: 'https://id.example.com', clientId: 'gatehouse' } }],
});

/** Stands in for the interactions: counts test starts, and settles each test when told. */
function fakeInteractions() {
  const begun: { settle: (r: TestedIdentity | Error) => void; answered: () => void }[] = [];
  const interactions = {
    beginTest: async (answered: () => void): Promise<UpstreamTest> => {
      let settle!: (r: TestedIdentity | Error) => void;
      const identity = new Promise<TestedIdentity>((resolve, reject) => (settle = (r) => (r instanceof Error ? reject(r) : resolve(r))));
      identity.catch(() => {});
      begun.push({ settle, answered });
      return { authorizationUrl: 'https://id.example.com/authorize?state=x', identity, cancel: (reason) => settle(new Error(reason)) };
    },
  } as unknown as UpstreamInteractions;
  return { interactions, begun };
}

describe('the provider test', () => {
  it("builds the token's claims as the engine does and the principal as the proxy does", () => {
    const p = tokenPreview({ subject: 'alice', name: 'Alice', email: 'a@example.com', claims: { groups: ['eng'], exp: 1, role: 'admin', score: 1.5 } }, settings, ['http://127.0.0.1:9000/mcp'], 1_700_000_000_000);
    // The account's own exp never replaces the engine's; the engine's registered claims are set.
    expect(p.claims).toMatchObject({ sub: 'alice', name: 'Alice', email: 'a@example.com', groups: ['eng'], role: 'admin', iss: 'http://127.0.0.1:8666', aud: 'http://127.0.0.1:9000/mcp', iat: 1_700_000_000, exp: 1_700_003_600 });
    expect(p.cedar).toMatchObject({ principal: 'Client::"alice"', parents: ['THVGroup::"eng"'] });
    expect(p.cedar!.attributes).toMatchObject({ claim_sub: 'alice', claim_role: 'admin', claim_groups: ['eng'], claim_score: { __extn: { fn: 'decimal', arg: '1.5' } } });
  });

  it('starts one test for two clicks, announces each step, and ends on the outcome', async () => {
    const { interactions, begun } = fakeInteractions();
    const opened: string[] = [];
    const states: string[] = [];
    const test: ProviderTest = new ProviderTest({ openUrl: async (u) => void opened.push(u), onChange: () => states.push(test.view().state), log: () => {} });
    const [a, b] = await Promise.all([test.start({ settings, interactions, audiences: [] }), test.start({ settings, interactions, audiences: [] })]);
    expect(begun).toHaveLength(1);
    expect(opened).toEqual(['https://id.example.com/authorize?state=x']);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ state: 'waiting', upstream: 'corp', browserOpened: true });
    begun[0]!.answered();
    begun[0]!.settle({ subject: 'bob', claims: {} });
    expect(await test.wait()).toMatchObject({ state: 'done', identity: { subject: 'bob', name: null, email: null } });
    expect(states).toEqual(['waiting', 'checking', 'done']);
  });

  it('a cancelled test fails with the reason, and a browser that does not open is said', async () => {
    const { interactions } = fakeInteractions();
    const test = new ProviderTest({ openUrl: async () => Promise.reject(new Error('no display')), onChange: () => {}, log: () => {} });
    expect(await test.start({ settings, interactions, audiences: [] })).toMatchObject({ state: 'waiting', browserOpened: false });
    test.cancel();
    expect(await test.wait()).toMatchObject({ state: 'failed', error: 'The test was cancelled.' });
  });
});
