// How claims and arguments become Cedar values: ToolHive's rules, pinned where they are easy to get wrong.
import { describe, expect, it } from 'vitest';
import { argumentAttributes, claimAttributes, groupsOf, toCedarValue } from '../../src/authz/index.js';

const dec = (arg: string) => ({ __extn: { fn: 'decimal', arg } });

describe('numbers are decimals, truncated as cedar-go does', () => {
  it('multiplies by 10^4 and truncates toward zero, float artifacts included', () => {
    expect(toCedarValue(2.71828)).toEqual(dec('2.7182'));
    expect(toCedarValue(-2.71828)).toEqual(dec('-2.7182'));
    expect(toCedarValue(5)).toEqual(dec('5.0'));
    expect(toCedarValue(1.005)).toEqual(dec('1.0049')); // 1.005 * 10^4 is 10049.999999999998 in a double, in Go too
    expect(toCedarValue(-0)).toEqual(dec('0.0'));
    expect(toCedarValue(0.00009)).toEqual(dec('0.0'));
    // The product is a double in Go too: 922337203685477 x 10^4 rounds to ...769664, and int64() keeps that.
    expect(toCedarValue(922337203685477)).toEqual(dec('922337203685476.9664'));
    expect(toCedarValue(1e15)).toBeUndefined(); // beyond Cedar's decimal range: dropped, as in ToolHive
    expect(argumentAttributes({ n: 1.23456, s: 'x', b: true, o: {}, a: [1], z: null })).toEqual({ arg_n: dec('1.2345'), arg_s: 'x', arg_b: true, arg_o_present: true, arg_a_present: true, arg_z_present: true });
  });
});

describe('nesting', () => {
  it('keeps values down to depth 10 (a top-level claim is 0) and drops what is deeper', () => {
    let v: unknown = 'leaf';
    for (let i = 0; i < 12; i++) v = { n: v };
    let c = toCedarValue(v) as Record<string, unknown>;
    let depth = 0;
    while (c && typeof c === 'object' && 'n' in c) {
      c = c['n'] as Record<string, unknown>;
      depth++;
    }
    expect(depth).toBe(10);
    expect(c).toEqual({});
  });
});

describe('groups', () => {
  it('falls back to groups, roles, cognito:groups when the configured claim is absent or not an array', () => {
    expect(groupsOf({ groups: ['platform'] }, { group_claim_name: 'https://example.com/groups' })).toEqual(['platform']);
    expect(groupsOf({ 'https://example.com/groups': 'platform', roles: ['dev'] }, { group_claim_name: 'https://example.com/groups' })).toEqual(['dev']);
    expect(groupsOf({ 'cognito:groups': ['c'] }, {})).toEqual(['c']);
    // An empty array is present: it stops the fallback.
    expect(groupsOf({ 'https://example.com/groups': [], groups: ['platform'] }, { group_claim_name: 'https://example.com/groups' })).toEqual([]);
    expect(groupsOf({ groups: [], roles: ['dev'] }, {})).toEqual([]);
    expect(groupsOf({ realm_access: { roles: ['admin'] } }, { group_claim_name: 'realm_access.roles' })).toEqual(['admin']);
  });

  it('ignores a string-valued group claim instead of splitting it', () => {
    expect(groupsOf({ groups: 'admin users' }, {})).toEqual([]);
    expect(groupsOf({ groups: 'admin', roles: ['dev'] }, { role_claim_name: 'role' })).toEqual(['dev']);
    expect(groupsOf({ groups: ['a', 1, 'b', 'a'], role: ['b', 'r'] }, { role_claim_name: 'role' })).toEqual(['a', 'b', 'r']);
  });
});

describe('multi_valued_claims', () => {
  it('keeps a string verbatim as claim_<n> and splits it for claimset_<n>; joins an array', () => {
    expect(claimAttributes({ scp: '  mail.read   files.read ' }, ['scp'])).toMatchObject({ claim_scp: '  mail.read   files.read ', claimset_scp: ['mail.read', 'files.read'] });
    expect(claimAttributes({ scp: ['mail.read', 3, 'files.read'] }, ['scp'])).toMatchObject({ claim_scp: 'mail.read files.read', claimset_scp: ['mail.read', 'files.read'] });
    expect(claimAttributes({ scp: ['a'] }, ['scope'])).not.toHaveProperty('claimset_scp');
    expect(claimAttributes({ scp: 7 }, ['scp'])).toEqual({ claim_scp: dec('7.0') });
    // Go's strings.Fields: NEL separates, a BOM does not.
    expect(claimAttributes({ scp: 'a\u0085b\ufeffc' }, ['scp'])['claimset_scp']).toEqual(['a', 'b\ufeffc']);
  });
});
