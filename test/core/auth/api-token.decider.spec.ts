import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiTokenDecider, type ApiTokenCommand, type ApiTokenEvent } from '../../../src/core/auth/api-token.decider';
import { decider } from '../../support/given-when-then';

const tokens = decider(apiTokenDecider);
const DIGEST_A = 'a'.repeat(64);
const DIGEST_B = 'b'.repeat(64);
const issue = (label: string, sha256 = DIGEST_A): ApiTokenCommand => ({ type: 'IssueApiToken', label, sha256 });
const revoke = (label: string): ApiTokenCommand => ({ type: 'RevokeApiToken', label });
const issued = (name: string, sha256 = DIGEST_A): ApiTokenEvent => ({ type: 'ApiTokenIssued', data: { name, sha256 } });
const revoked = (name: string): ApiTokenEvent => ({ type: 'ApiTokenRevoked', data: { name } });

describe('API token decider (stream auth-tokens)', () => {
  describe('IssueApiToken', () => {
    it('issues a token under its label, with only the digest', () => {
      tokens
        .given([])
        .when(issue('ci runner'))
        .then([issued('ci runner')]);
    });

    it('accepts 1 to 64 letters, digits, spaces, dots, underscores and dashes', () => {
      for (const label of ['a', 'Z', '0', 'grafana.lab-2_b', 'x'.repeat(64), 'two words']) {
        tokens
          .given([])
          .when(issue(label))
          .then([issued(label)]);
      }
    });

    it('refuses any other label: VALIDATION on label', () => {
      for (const label of ['', 'x'.repeat(65), 'ümlaut', 'a/b', 'a:b', 'tab\there', 'new\nline', ' leading', 'trailing ']) {
        tokens.given([]).when(issue(label)).thenThrows('VALIDATION', 'label');
      }
      tokens
        .given([])
        .when({ type: 'IssueApiToken', label: 42 as unknown as string, sha256: DIGEST_A })
        .thenThrows('VALIDATION', 'label');
    });

    it('"env" is reserved: it is the actor of BRAMBLE_ADMIN_TOKEN (admin:env)', () => {
      tokens.given([]).when(issue('env')).thenThrows('VALIDATION', 'label');
    });

    it('a label of a live token is TOKEN_EXISTS on label (exact match: labels are case-sensitive)', () => {
      tokens
        .given([issued('ci')])
        .when(issue('ci', DIGEST_B))
        .thenThrows('TOKEN_EXISTS', 'label');
      tokens
        .given([issued('ci')])
        .when(issue('CI', DIGEST_B))
        .then([issued('CI', DIGEST_B)]);
    });

    it('a revoked label can be issued again', () => {
      tokens
        .given([issued('ci'), revoked('ci')])
        .when(issue('ci', DIGEST_B))
        .then([issued('ci', DIGEST_B)]);
    });

    it('refuses a digest that is not 64 lower-case hex digits, or one a live token already has', () => {
      tokens
        .given([])
        .when(issue('ci', 'A'.repeat(64)))
        .thenThrows('VALIDATION', 'sha256');
      tokens
        .given([])
        .when(issue('ci', 'a'.repeat(63)))
        .thenThrows('VALIDATION', 'sha256');
      tokens
        .given([issued('one')])
        .when(issue('two', DIGEST_A))
        .thenThrows('VALIDATION', 'sha256');
    });
  });

  describe('RevokeApiToken', () => {
    it('revokes a live token', () => {
      tokens
        .given([issued('ci')])
        .when(revoke('ci'))
        .then([revoked('ci')]);
    });

    it('an unknown or already revoked label is TOKEN_NOT_FOUND on label', () => {
      tokens.given([]).when(revoke('ci')).thenThrows('TOKEN_NOT_FOUND', 'label');
      tokens
        .given([issued('ci'), revoked('ci')])
        .when(revoke('ci'))
        .thenThrows('TOKEN_NOT_FOUND', 'label');
      tokens
        .given([issued('ci')])
        .when(revoke('CI'))
        .thenThrows('TOKEN_NOT_FOUND', 'label');
    });

    it('BRAMBLE_ADMIN_TOKEN ("env") cannot be revoked through the API: FORBIDDEN, saying so', () => {
      const error = tokens.given([]).when(revoke('env')).thenThrows('FORBIDDEN', 'label');
      assert.match(error.message, /BRAMBLE_ADMIN_TOKEN/);
      assert.match(error.message, /environment/);
    });

    it('revokes a token whose label predates the label rule (revocation checks liveness only)', () => {
      tokens
        .given([issued('old:name')])
        .when(revoke('old:name'))
        .then([revoked('old:name')]);
    });
  });

  describe('state', () => {
    it('holds the live labels and their digests', () => {
      const state = tokens.given([issued('a', DIGEST_A), issued('b', DIGEST_B), revoked('a')]).state();
      assert.deepEqual([...state.live], [['b', DIGEST_B]]);
    });

    it('ignores events of other types, and a revocation of an unknown label', () => {
      const before = tokens.given([issued('a')]).state();
      assert.equal(apiTokenDecider.evolve(before, { type: 'ClientApproved', data: {} }), before);
      assert.equal(apiTokenDecider.evolve(before, revoked('zzz')), before);
    });
  });
});
