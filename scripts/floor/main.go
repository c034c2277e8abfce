// Command floor is the least a Go client can do for pgprobe's two measured
// exchanges, with the standard library only: scripts/bench.sh times it next to
// pgprobe, so that pgprobe's own cost is what lies above it.
//
//	floor -ping HOST PORT USER          connect, SSLRequest, TLS, StartupMessage,
//	                                    read the first answer, close (no Terminate)
//	floor HOST PORT USER DBNAME         the same, then SCRAM-SHA-256-PLUS with
//	                                    $PGPASSWORD through ReadyForQuery, Terminate
//
// Like pgprobe with sslmode=require it offers ALPN "postgresql", verifies no
// certificate, and binds SCRAM to the certificate (tls-server-end-point).
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

func main() {
	ping := len(os.Args) > 1 && os.Args[1] == "-ping"
	args := os.Args[1:]
	if ping {
		args = args[1:]
	}
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: floor [-ping] HOST PORT USER [DBNAME]")
		os.Exit(3)
	}
	db := args[2]
	if len(args) > 3 {
		db = args[3]
	}
	if err := exchange(ping, args[0], args[1], args[2], db); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(2)
	}
}

func exchange(ping bool, host, port, user, db string) error {
	raw, err := net.Dial("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return err
	}
	defer raw.Close()
	if _, err := raw.Write([]byte{0, 0, 0, 8, 4, 210, 22, 47}); err != nil { // SSLRequest
		return err
	}
	var answer [1]byte
	if _, err := io.ReadFull(raw, answer[:]); err != nil || answer[0] != 'S' {
		return fmt.Errorf("SSLRequest answered %q, %v", answer[:], err)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"postgresql"}})
	defer c.Close() // close_notify, then the socket, as pgprobe and libpq close
	if err := c.Handshake(); err != nil {
		return err
	}
	startup := []byte{0, 0, 0, 0, 0, 3, 0, 0}
	for _, kv := range []string{"user", user, "database", db, "application_name", "floor"} {
		startup = append(append(startup, kv...), 0)
	}
	startup = append(startup, 0)
	binary.BigEndian.PutUint32(startup, uint32(len(startup)))
	if _, err := c.Write(startup); err != nil {
		return err
	}
	typ, body, err := readMessage(c)
	if err != nil {
		return err
	}
	if ping {
		return nil // as pg_isready: the first answer is enough
	}
	if typ != 'R' || len(body) < 4 || binary.BigEndian.Uint32(body) != 10 ||
		!bytes.Contains(body, []byte("SCRAM-SHA-256-PLUS\x00")) {
		return fmt.Errorf("expected AuthenticationSASL with SCRAM-SHA-256-PLUS, got %q", typ)
	}
	if err := scram(c, os.Getenv("PGPASSWORD")); err != nil {
		return err
	}
	for typ != 'Z' { // ParameterStatus, BackendKeyData… until ReadyForQuery
		if typ, body, err = readMessage(c); err != nil {
			return err
		}
		if typ == 'E' {
			return fmt.Errorf("server error: %q", body)
		}
	}
	_, err = c.Write([]byte{'X', 0, 0, 0, 4}) // Terminate
	return err
}

func readMessage(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n < 4 || n > 1<<20 {
		return 0, nil, fmt.Errorf("message %q of length %d", h[0], n)
	}
	body := make([]byte, n-4)
	_, err := io.ReadFull(r, body)
	return h[0], body, err
}

func writeMessage(w io.Writer, typ byte, body []byte) error {
	msg := append([]byte{typ, 0, 0, 0, 0}, body...)
	binary.BigEndian.PutUint32(msg[1:], uint32(len(body)+4))
	_, err := w.Write(msg)
	return err
}

// scram runs SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677) with channel binding
// tls-server-end-point (RFC 5929: SHA-256 for SHA-256 and ECDSA-SHA256
// certificates, which is what the bench's server has). The password is used
// as it is: no SASLprep, which an ASCII password does not need.
func scram(c *tls.Conn, password string) error {
	var nonce [18]byte
	_, _ = rand.Read(nonce[:])
	clientNonce := base64.StdEncoding.EncodeToString(nonce[:])
	gs2 := "p=tls-server-end-point,,"
	clientFirstBare := "n=,r=" + clientNonce
	first := []byte("SCRAM-SHA-256-PLUS\x00")
	first = binary.BigEndian.AppendUint32(first, uint32(len(gs2+clientFirstBare)))
	if err := writeMessage(c, 'p', append(first, gs2+clientFirstBare...)); err != nil {
		return err
	}
	serverFirst, err := authData(c, 11)
	if err != nil {
		return err
	}
	attrs := map[byte]string{}
	for _, a := range strings.Split(serverFirst, ",") {
		if len(a) > 2 && a[1] == '=' {
			attrs[a[0]] = a[2:]
		}
	}
	salt, err := base64.StdEncoding.DecodeString(attrs['s'])
	iters, err2 := strconv.Atoi(attrs['i'])
	if err != nil || err2 != nil || !strings.HasPrefix(attrs['r'], clientNonce) {
		return fmt.Errorf("bad server-first-message %q", serverFirst)
	}
	certHash := sha256.Sum256(c.ConnectionState().PeerCertificates[0].Raw)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString(append([]byte(gs2), certHash[:]...)) + ",r=" + attrs['r']
	authMessage := clientFirstBare + "," + serverFirst + "," + withoutProof
	salted, err := pbkdf2.Key(sha256.New, password, salt, iters, sha256.Size)
	if err != nil {
		return err
	}
	clientKey := mac(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	proof := mac(storedKey[:], authMessage)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	final := withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
	if err := writeMessage(c, 'p', []byte(final)); err != nil {
		return err
	}
	serverFinal, err := authData(c, 12)
	if err != nil {
		return err
	}
	want := "v=" + base64.StdEncoding.EncodeToString(mac(mac(salted, "Server Key"), authMessage))
	if !hmac.Equal([]byte(serverFinal), []byte(want)) {
		return errors.New("the server's signature does not match")
	}
	if typ, body, err := readMessage(c); err != nil || typ != 'R' || !bytes.Equal(body, []byte{0, 0, 0, 0}) {
		return fmt.Errorf("expected AuthenticationOk, got %q %v", typ, err)
	}
	return nil
}

// authData reads an Authentication message of the given code (11
// SASLContinue, 12 SASLFinal) and returns its data.
func authData(r io.Reader, code uint32) (string, error) {
	typ, body, err := readMessage(r)
	if err != nil {
		return "", err
	}
	if typ != 'R' || len(body) < 4 || binary.BigEndian.Uint32(body) != code {
		return "", fmt.Errorf("expected authentication code %d, got %q %q", code, typ, body)
	}
	return string(body[4:]), nil
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
