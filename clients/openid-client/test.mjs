// openid-client (the version pinned in package-lock.json) against the
// codexauth reference issuer, with the library's default settings: the
// issuer runs over HTTPS with a throwaway certificate trusted through
// NODE_EXTRA_CA_CERTS, so no allowInsecureRequests. Where the library would
// need a non-default option to work, that is a bug in the issuer.
//
// Started by openidclient_test.go with ISSUER, ADMIN_TOKEN, CLIENT_ID,
// REDIRECT_URI and USER_ID set. Prints one "openid-client: flow: …" line per
// flow; exits non-zero on the first failure.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import * as client from 'openid-client'

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v
}
const issuer = new URL(env('ISSUER'))
const adminToken = env('ADMIN_TOKEN')
const clientId = env('CLIENT_ID')
const redirectUri = env('REDIRECT_URI')
const user = env('USER_ID')
const flow = (s) => console.log(`openid-client: flow: ${s}`)

const { version } = createRequire(import.meta.url)('openid-client/package.json')
flow(`openid-client ${version} on Node ${process.version}`)

// Discovery (OIDC Discovery §4).
const config = await client.discovery(issuer, clientId)
const meta = config.serverMetadata()
assert.equal(meta.issuer, issuer.href.replace(/\/$/, ''))
assert.ok(meta.revocation_endpoint && meta.userinfo_endpoint, 'discovery names revocation and userinfo endpoints')
flow(`discovery: issuer ${meta.issuer}, token ${meta.token_endpoint}, userinfo ${meta.userinfo_endpoint}`)

// Authorization code + PKCE (S256) + nonce, approved headlessly through the
// admin API (what a person signing in would do in a browser).
const verifier = client.randomPKCECodeVerifier()
const nonce = client.randomNonce()
const state = client.randomState()
const authorizeUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  nonce,
  state,
})
const approved = await fetch(new URL('__admin/authorize', issuer.href.endsWith('/') ? issuer : new URL(issuer.href + '/')), {
  method: 'POST',
  headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
  body: JSON.stringify({ url: authorizeUrl.href, user }),
})
assert.equal(approved.status, 200, `admin authorize: ${approved.status} ${await approved.clone().text()}`)
const { redirect } = await approved.json()
const tokens = await client.authorizationCodeGrant(config, new URL(redirect), {
  pkceCodeVerifier: verifier,
  expectedNonce: nonce,
  expectedState: state,
})
const claims = tokens.claims()
assert.equal(claims.nonce, nonce)
assert.equal(typeof claims.auth_time, 'number')
assert.ok(tokens.refresh_token, 'a refresh token')
flow(`authorization code + PKCE S256 + nonce: id_token verified (sub ${claims.sub}, nonce matches, auth_time ${claims.auth_time})`)

// UserInfo (OIDC Core §5.3), with the subject check the library makes.
const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
assert.equal(info.sub, claims.sub)
flow(`userinfo: sub ${info.sub}, email ${info.email}`)

// Refresh (RFC 6749 §6): rotated refresh token, the same authentication.
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token rotates')
assert.notEqual(refreshed.access_token, tokens.access_token, 'a new access token')
const again = refreshed.claims()
assert.equal(again.sub, claims.sub)
assert.equal(again.auth_time, claims.auth_time, 'auth_time kept (OIDC Core §12.2)')
assert.equal(again.nonce, claims.nonce, 'nonce kept (OIDC Core §12.2)')
flow('refresh: new access token, rotated refresh token, id_token with the same sub, auth_time and nonce')

// Revocation (RFC 7009), then the revoked token no longer refreshes.
await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' })
await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (err) => {
  assert.ok(err instanceof client.ResponseBodyError, `${err}`)
  assert.equal(err.error, 'refresh_token_invalidated')
  return true
})
flow('revoke: refresh token revoked; refreshing it fails with refresh_token_invalidated')
