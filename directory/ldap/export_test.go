package ldap

import (
	"context"
	"crypto/tls"
)

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

// UseGoLDAPReader makes d run every search through go-ldap, as before the
// bulk connection: for benchmarks and tests comparing the two readers.
func UseGoLDAPReader(d *Directory) { d.goldapOnly = true }

// ConnectBulk opens a bulk-search connection for cfg as a search would,
// and closes it. It returns the TLS version it spoke, "" in clear.
func ConnectBulk(ctx context.Context, cfg Config) (string, error) {
	d, err := prepare(cfg)
	if err != nil {
		return "", err
	}
	b, err := d.c.openBulk(ctx)
	if err != nil {
		return "", err
	}
	defer b.close()
	if tc, ok := b.conn.(*tls.Conn); ok {
		return tls.VersionName(tc.ConnectionState().Version), nil
	}
	return "", nil
}

// RewriteADCookie rewrites an Active Directory feed cookie, keeping its
// envelope valid: a non-nil dirSync replaces DirSync's cookie, a
// non-empty invocationID the DC's invocation. For tests of cookies a DC
// must refuse.
func RewriteADCookie(cookie, dirSync []byte, invocationID string) []byte {
	var c adCookie
	if err := openCookie(adCookieFormat, cookie, &c); err != nil {
		panic(err)
	}
	if dirSync != nil {
		c.DirSync = dirSync
	}
	if invocationID != "" {
		c.InvocationID = invocationID
	}
	return sealCookie(adCookieFormat, c)
}

// ADCookieMode is the mode of an Active Directory feed cookie: "dirsync"
// or "usn".
func ADCookieMode(cookie []byte) string {
	var c adCookie
	if err := openCookie(adCookieFormat, cookie, &c); err != nil {
		return ""
	}
	return c.Mode
}
