package probe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgprobe/pgprobe/probe/conninfo"
)

// explainLookupTimeout bounds each name lookup of `pgprobe settings`.
const explainLookupTimeout = 3 * time.Second

// Explain says in words what libpq will do with these settings: which hosts
// and addresses it tries in which order, what sslmode means with the files
// present, where the password comes from, what target_session_attrs and
// load_balance_hosts do. It may look names up (DNS) but never connects.
func Explain(s *conninfo.Settings, home string) []string {
	return explain(s, home, func(ctx context.Context, host string) ([]string, error) {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		out := make([]string, 0, len(addrs))
		for _, a := range addrs {
			out = append(out, a.IP.String())
		}
		return out, err
	})
}

type lookupFunc func(ctx context.Context, host string) ([]string, error)

func explain(s *conninfo.Settings, home string, lookup lookupFunc) []string {
	var out []string
	say := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }

	hosts, err := s.Hosts()
	if err != nil {
		return []string{err.Error()}
	}
	lb := s.Get("load_balance_hosts") == "random"
	if len(hosts) > 1 {
		order := "in the order given"
		if lb {
			order = "in random order"
		}
		say("%d hosts: tried one after another %s until one connects and fits target_session_attrs=%s", len(hosts), order, cmp.Or(s.Get("target_session_attrs"), "any"))
	}
	anyTCP := false
	for _, h := range hosts {
		port := cmp.Or(h.Port, "5432")
		switch h.Type {
		case conninfo.UnixSocket:
			say("host %s is a Unix-domain socket directory: connects to %s/.s.PGSQL.%s (never TLS on a Unix socket)", h.Host, strings.TrimRight(h.Host, "/"), port)
		case conninfo.HostAddress:
			anyTCP = true
			if h.Host != "" {
				say("hostaddr %s: connects to %s port %s without a name lookup; the name %s is still used for TLS checks and the password file", h.HostAddr, h.HostAddr, port, h.Host)
			} else {
				say("hostaddr %s: connects to %s port %s without a name lookup", h.HostAddr, h.HostAddr, port)
			}
		default:
			anyTCP = true
			if ip, perr := parseNumericHost(h.Host); perr == "" {
				say("host %s is a numeric address: connects to %s port %s without a name lookup", h.Host, ip, port)
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), explainLookupTimeout)
			ips, lerr := lookup(ctx, h.Host)
			cancel()
			switch {
			case lerr != nil || len(ips) == 0:
				reason := "Name or service not known"
				var de *net.DNSError
				if errors.As(lerr, &de) && (de.IsTemporary || de.IsTimeout) && !de.IsNotFound {
					reason = "Temporary failure in name resolution"
				}
				say("host %s does not resolve now (%s): libpq will report \"could not translate host name\" and go on to the next host, if any", h.Host, reason)
			case len(ips) == 1:
				say("host %s resolves to 1 address: %s, port %s", h.Host, ips[0], port)
			case lb:
				say("host %s resolves to %d addresses (%s), tried in random order (load_balance_hosts=random), port %s", h.Host, len(ips), strings.Join(ips, ", "), port)
			default:
				say("host %s resolves to %d addresses, tried in this order: %s, port %s", h.Host, len(ips), strings.Join(ips, ", "), port)
			}
		}
	}
	if anyTCP {
		out = append(out, explainSSL(s, home)...)
	}
	out = append(out, explainPassword(s, hosts, home)...)

	switch s.Get("target_session_attrs") {
	case "read-write":
		say("target_session_attrs=read-write: hosts that are read-only (a hot standby, or default_transaction_read_only=on) are skipped")
	case "read-only":
		say("target_session_attrs=read-only: hosts that are not read-only are skipped")
	case "primary":
		say("target_session_attrs=primary: hosts in hot standby mode are skipped")
	case "standby":
		say("target_session_attrs=standby: hosts that are not in hot standby mode are skipped")
	case "prefer-standby":
		say("target_session_attrs=prefer-standby: a standby is looked for first; if no host is one, the hosts are tried again and any server is accepted")
	}
	if lb {
		say("load_balance_hosts=random: hosts are tried in random order, and each host's addresses too (the same seed repeats an order; each attempt's reason shows the seed)")
	}
	if v := s.Get("connect_timeout"); v != "" && v != "0" {
		say("connect_timeout=%s: each address gets %s seconds before the next one is tried", v, v)
	}
	return out
}

// explainSSL describes sslmode with the root certificate file as found.
func explainSSL(s *conninfo.Settings, home string) []string {
	mode := cmp.Or(s.Get("sslmode"), "prefer")
	root := s.Get("sslrootcert")
	rootName := root
	if root == "" && home != "" {
		root = filepath.Join(home, conninfo.UserTLSDir, "root.crt")
		rootName = "~/.postgresql/root.crt"
	}
	rootExists := false
	if root == "system" {
		rootExists = true
		rootName = "sslrootcert=system (the operating system's trusted CAs)"
	} else if root != "" {
		_, err := os.Stat(root)
		rootExists = err == nil
	}
	var out []string
	switch mode {
	case "disable":
		out = append(out, "sslmode=disable: no TLS, the connection is plaintext")
	case "allow":
		out = append(out, "sslmode=allow: plaintext first; only if the server rejects it is TLS tried, on a new connection")
	case "prefer":
		out = append(out, "sslmode=prefer: TLS first; if the server refuses it or the TLS attempt fails, a plaintext connection follows")
	case "require":
		if rootExists {
			out = append(out, fmt.Sprintf("sslmode=require and %s exists: the chain will be verified as with verify-ca (the host name is not checked)", rootName))
		} else {
			out = append(out, "sslmode=require: TLS is required, but the server's certificate is not verified (no root certificate file)")
		}
	case "verify-ca", "verify-full":
		what := "the server's certificate must chain to a CA in " + rootName
		if mode == "verify-full" {
			what += ", and its name must match the host name"
		} else {
			what += "; the host name is not checked"
		}
		if !rootExists {
			what = fmt.Sprintf("%s does not exist, so every TLS attempt will fail (\"root certificate file ... does not exist\")", rootName)
			if root == "" {
				what = "no home directory to find ~/.postgresql/root.crt in, so every TLS attempt will fail"
			}
		}
		out = append(out, fmt.Sprintf("sslmode=%s: %s", mode, what))
	}
	if mode != "disable" && s.Get("sslnegotiation") == "direct" {
		out = append(out, "sslnegotiation=direct: TLS starts at once, without SSLRequest (needs a PostgreSQL 17 server)")
	}
	return out
}

// explainPassword says where each host's password comes from.
func explainPassword(s *conninfo.Settings, hosts []conninfo.Host, home string) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range hosts {
		pw := h.Password
		var line string
		switch {
		case pw.Value == "":
			line = "no password is set or found in the password file: the server's method decides whether one is needed"
		case pw.Source == conninfo.SourcePgpass:
			line = "password from " + pgpassPlace(pw.Origin, home)
			if len(hosts) > 1 {
				line += fmt.Sprintf(" (for host %s)", displayHost(h))
			}
		default:
			origin := pw.Origin
			if origin == "" {
				origin = string(pw.Source)
			}
			line = "password from " + origin
		}
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return out
}

// pgpassPlace turns "/home/u/.pgpass:3" into "~/.pgpass line 3".
func pgpassPlace(origin, home string) string {
	file, line := origin, ""
	if i := strings.LastIndexByte(origin, ':'); i > 0 {
		file, line = origin[:i], origin[i+1:]
	}
	if home != "" && strings.HasPrefix(file, strings.TrimRight(home, "/")+"/") {
		file = "~/" + strings.TrimPrefix(file, strings.TrimRight(home, "/")+"/")
	}
	if line == "" {
		return file
	}
	return file + " line " + line
}
