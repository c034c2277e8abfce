// Package wire is the vocabulary both sides of a PostgreSQL connection share:
// authentication request codes and their protocol names, the MD5 password
// hash, TLS version and alert names as OpenSSL and libpq print them, and
// socket errors as glibc's strerror words them. It holds names and tiny
// pure functions only; the client's state machine lives in probe/, the
// server's in server/.
package wire
