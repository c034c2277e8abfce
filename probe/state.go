package probe

// ConnStatusType mirrors libpq's enum (libpq-fe.h) value for value, so that a
// reader of fe-connect.c recognises every state in the record.
type ConnStatusType int

const (
	ConnectionOK               ConnStatusType = 0
	ConnectionBad              ConnStatusType = 1
	ConnectionStarted          ConnStatusType = 2
	ConnectionMade             ConnStatusType = 3
	ConnectionAwaitingResponse ConnStatusType = 4
	ConnectionAuthOK           ConnStatusType = 5
	ConnectionSetenv           ConnStatusType = 6
	ConnectionSSLStartup       ConnStatusType = 7
	ConnectionNeeded           ConnStatusType = 8
	ConnectionCheckWritable    ConnStatusType = 9
	ConnectionConsume          ConnStatusType = 10
	ConnectionGSSStartup       ConnStatusType = 11
	ConnectionCheckTarget      ConnStatusType = 12
	ConnectionCheckStandby     ConnStatusType = 13
)

var stateNames = map[ConnStatusType]string{
	ConnectionOK:               "CONNECTION_OK",
	ConnectionBad:              "CONNECTION_BAD",
	ConnectionStarted:          "CONNECTION_STARTED",
	ConnectionMade:             "CONNECTION_MADE",
	ConnectionAwaitingResponse: "CONNECTION_AWAITING_RESPONSE",
	ConnectionAuthOK:           "CONNECTION_AUTH_OK",
	ConnectionSetenv:           "CONNECTION_SETENV",
	ConnectionSSLStartup:       "CONNECTION_SSL_STARTUP",
	ConnectionNeeded:           "CONNECTION_NEEDED",
	ConnectionCheckWritable:    "CONNECTION_CHECK_WRITABLE",
	ConnectionConsume:          "CONNECTION_CONSUME",
	ConnectionGSSStartup:       "CONNECTION_GSS_STARTUP",
	ConnectionCheckTarget:      "CONNECTION_CHECK_TARGET",
	ConnectionCheckStandby:     "CONNECTION_CHECK_STANDBY",
}

func (s ConnStatusType) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "CONNECTION_UNKNOWN"
}

// encMethod is one of libpq's ENC_* encryption methods.
type encMethod int

const (
	encPlaintext encMethod = iota
	encSSL
	encGSS
)

func (e encMethod) String() string {
	switch e {
	case encSSL:
		return "ssl"
	case encGSS:
		return "gss"
	}
	return "plaintext"
}
