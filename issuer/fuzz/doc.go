// Package fuzz holds the fuzz targets of the issuer's endpoints (issue 15):
// the token, revoke, device and validate endpoints driven in process through
// issuer.Server's public handler with any body. It has no code of its own; it
// is a package of its own so that its test binary links only the issuer, not
// the browser and database test dependencies of issuer's own tests, which
// would slow every fuzz execution down. The body parsers and user codes are
// fuzzed in issuer/input. scripts/fuzz.sh runs every target.
package fuzz
