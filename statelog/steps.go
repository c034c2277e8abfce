package statelog

// Steps: what happened, as the record names it (Event.Step). Both sides of
// the connection, the diagnosis and every report use these names.
const (
	StepResolve        = "resolve"
	StepConnect        = "connect"
	StepSSLRequest     = "ssl_request"
	StepSSLResponse    = "ssl_response"
	StepTLSHandshake   = "tls_handshake"
	StepGSSHandshake   = "gss_handshake" // the GSSAPI context after GSSENCRequest's G
	StepStartup        = "startup"
	StepAuthRequest    = "auth_request"
	StepAuthResponse   = "auth_response"
	StepAuthOK         = "auth_ok"
	StepParameter      = "parameter_status"
	StepBackendKeyData = "backend_key_data"
	StepReadyForQuery  = "ready_for_query"
	StepNotice         = "notice"
	StepErrorResponse  = "error_response"
	StepNegotiate      = "negotiate_protocol_version"
	StepCheckTarget    = "check_target"
	StepClose          = "close"
	StepTimeout        = "timeout"
)

// Steps the target_session_attrs checks record.
const (
	StepQuery       = "query"        // SHOW transaction_read_only or pg_is_in_recovery() sent
	StepQueryResult = "query_result" // CONNECTION_CHECK_WRITABLE / CHECK_STANDBY read its result
)

// GSSENCRequest and its one-byte answer (both sides record them).
const (
	StepGSSRequest  = "gss_request"
	StepGSSResponse = "gss_response"
)

// Steps only the server side records.
const (
	StepCancelRequest = "cancel_request"
)
