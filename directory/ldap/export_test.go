package ldap

// ReplaceServerCookies rewrites the server cookie of every part of a feed
// cookie, keeping the envelope valid: for tests of what a server does
// with a cookie it cannot parse.
func ReplaceServerCookies(cookie []byte, server []byte) []byte {
	parts, err := decodeCookie(cookie)
	if err != nil {
		panic(err)
	}
	for i := range parts {
		parts[i].Server = server
	}
	return encodeCookie(parts)
}
