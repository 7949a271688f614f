/**
 * API errors are mapped once (activities/kube/errors.ts): a 401 says authentication (the credentials),
 * a 403 says RBAC (the permissions), each naming the cluster and the fix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiFailure, isTransient, kubeError, unreachableReason } from '../../activities/kube/errors.js';

/** What client-node throws: an ApiException has a numeric code, a body and headers. */
const apiException = (code: number, body?: unknown) => Object.assign(new Error(`HTTP-Code: ${code}`), { code, body, headers: {} });

describe('401 and 403 are told apart', () => {
  it('401 (client-node drops the body): authentication, the cluster, the context and the fix', () => {
    const f = apiFailure(apiException(401, undefined), 'listing VirtualMachines', 'source');
    assert.equal(f.type, 'Unauthorized');
    assert.equal(f.nonRetryable, true);
    assert.equal(
      f.message,
      'listing VirtualMachines on cluster source: HTTP 401 Unauthorized: authentication failed (not an RBAC denial): cluster source did not accept the credentials of kubeconfig context "source" (the token is expired, revoked or for another cluster, or the context names the wrong user); renew them in the kubeconfig (the worker reads FERRY_KUBECONFIG when it starts: restart it after)',
    );
    assert.doesNotMatch(f.message, /HTTP 401 :|: error\b/);
  });

  it("403: RBAC, with the server's message naming the user and the verb", () => {
    const denied = 'configmaps is forbidden: User "system:serviceaccount:ferry:ferry" cannot create resource "configmaps" in API group "" in the namespace "demo"';
    const f = apiFailure(
      apiException(403, JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: denied, code: 403 })),
      'creating ConfigMap demo/web-config',
      'destination',
    );
    assert.equal(f.type, 'Forbidden');
    assert.equal(f.nonRetryable, true);
    assert.equal(
      f.message,
      `creating ConfigMap demo/web-config on cluster destination: HTTP 403 Forbidden: ${denied}: an RBAC denial: the credentials of kubeconfig context "destination" are valid but lack this permission; grant it (README "RBAC the worker needs", deploy/rbac.yaml)`,
    );
    assert.doesNotMatch(f.message, /authentication/);
  });

  it('403 on a Secret (sensitive): the reason is not repeated', () => {
    const f = apiFailure(apiException(403, { reason: 'Forbidden', message: 'secret value quoted here' }), 'creating Secret demo/creds', 'destination', true);
    assert.match(f.message, /^creating Secret demo\/creds on cluster destination: HTTP 403 Forbidden: an RBAC denial/);
    assert.doesNotMatch(f.message, /secret value/);
  });

  it('other codes keep the Status message', () => {
    const f = apiFailure(apiException(422, { reason: 'Invalid', message: 'spec.x: Invalid value' }), 'creating VirtualMachine demo/web-01', 'destination');
    assert.equal(f.message, 'creating VirtualMachine demo/web-01 on cluster destination: HTTP 422 Invalid: spec.x: Invalid value');
    assert.equal(f.type, 'KubernetesApiError');
  });
});

describe('no answer at all', () => {
  it("a watch's inactivity timeout (a DOMException, whose numeric code is no HTTP status) is unreachable and retryable", () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    assert.equal(unreachableReason(timeout), 'the connection went silent (watch timeout)');
    assert.equal(kubeError(timeout).code, undefined);
    assert.equal(isTransient(timeout), true);
  });
});
