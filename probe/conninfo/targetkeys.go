package conninfo

// TargetKeywords parses a connection string or URI as libpq does, without
// reading any file or environment variable, and returns the keywords it
// sets, in the order given (requiressl counts as sslmode). A plain database
// name sets dbname. Errors are worded as libpq words them and never contain
// a secret. The exporter uses it to refuse targets that set keywords only
// its configuration may set.
func TargetKeywords(target string) ([]string, error) {
	if !IsConnString(target) {
		return []string{"dbname"}, nil
	}
	params, err := parseConnString(target)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(params))
	for i, p := range params {
		out[i] = p.keyword
	}
	return out, nil
}
