package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// DefaultTimeout bounds connecting, and every wait for the server's next
// answer (TLS, bind, each part of a search), when Config.Timeout is zero.
// A search that keeps streaming is never cut, however long it takes.
const DefaultTimeout = 30 * time.Second

// DefaultPageSize is the paged-results page size when Config.PageSize is
// zero. Active Directory caps pages at 1000 entries (MaxPageSize).
const DefaultPageSize = 500

// connector holds what connecting to one configured server takes: the
// parsed URL, the TLS settings and the timeout.
type connector struct {
	cfg      Config
	scheme   string // "ldap" or "ldaps"
	hostport string
	host     string
	tls      *tls.Config
	timeout  time.Duration
}

func newConnector(cfg Config) (*connector, error) {
	c := &connector{cfg: cfg, timeout: cfg.Timeout.Duration}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	raw := strings.TrimSpace(cfg.URL)
	if raw == "" {
		return nil, errors.New("url is empty: set url = \"ldaps://host:636\" or \"ldap://host:389\"")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", raw, err)
	}
	c.scheme = strings.ToLower(u.Scheme)
	port := u.Port()
	switch c.scheme {
	case "ldap":
		if port == "" {
			port = "389"
		}
	case "ldaps":
		if port == "" {
			port = "636"
		}
	default:
		return nil, fmt.Errorf("url %q: the scheme must be ldap:// or ldaps://", raw)
	}
	c.host = u.Hostname()
	if c.host == "" {
		return nil, fmt.Errorf("url %q has no host", raw)
	}
	c.hostport = net.JoinHostPort(c.host, port)

	c.tls = &tls.Config{
		ServerName:         c.host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // asked for explicitly in the configuration
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		c.tls.RootCAs = pool
	}
	return c, nil
}

// encrypted reports whether the configuration asks for an encrypted
// connection.
func (c *connector) encrypted() bool { return c.scheme == "ldaps" || c.cfg.StartTLS }

// label names the server in messages: its configured name, else its URL.
func (c *connector) label() string {
	if c.cfg.Name != "" {
		return c.cfg.Name
	}
	return c.cfg.URL
}

// noAnswer is the error of an operation the server left unanswered for
// the timeout; after says how far it got, or is empty.
func (c *connector) noAnswer(after string) *noAnswerError {
	return &noAnswerError{server: c.label(), timeout: c.timeout, after: after}
}

// dial opens the TCP connection (step "connect"), watched for silence
// (see watchConn).
func (c *connector) dial(ctx context.Context) (*watchConn, error) {
	d := net.Dialer{Timeout: c.timeout, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", c.hostport)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to %s: %w", c.hostport, ctx.Err())
		}
		return nil, fmt.Errorf("connect to %s: %w — check the url and that the server is reachable from here", c.hostport, unwrapOp(err))
	}
	return newWatchConn(raw, c.timeout), nil
}

// unwrapOp drops the "dial tcp 1.2.3.4:389:" prefix the address already
// says.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// secure sets up TLS as configured (step "TLS") and starts the LDAP
// connection on top of raw. It returns what it did, for the checks.
//
// go-ldap's own per-request timeout stays off (see watchConn): every wait
// for the server goes through the session's watchdog instead.
func (c *connector) secure(ctx context.Context, raw *watchConn) (*session, string, error) {
	switch {
	case c.scheme == "ldaps":
		tc, err := c.handshake(ctx, raw, "TLS")
		if err != nil {
			return nil, "", err
		}
		s := &session{Conn: goldap.NewConn(tc, true), watch: raw}
		s.Start()
		return s, "ldaps: " + c.tlsDetail(tc.ConnectionState()), nil
	case c.cfg.StartTLS:
		s := &session{Conn: goldap.NewConn(raw, false), watch: raw}
		s.Start()
		stop := context.AfterFunc(ctx, func() { _ = s.Close() })
		// The watchdog covers both the wait for the StartTLS answer and
		// the handshake go-ldap then runs without a deadline.
		err := s.waitFor(func() error { return s.StartTLS(c.tls) })
		stop()
		if err != nil {
			_ = s.Close()
			switch {
			case ctx.Err() != nil:
				return nil, "", fmt.Errorf("StartTLS with %s: %w", c.hostport, ctx.Err())
			case s.stalled():
				return nil, "", fmt.Errorf("StartTLS with %s: %w", c.hostport, c.noAnswer(""))
			}
			return nil, "", c.tlsError(err)
		}
		state, _ := s.TLSConnectionState()
		return s, "StartTLS: " + c.tlsDetail(state), nil
	default:
		s := &session{Conn: goldap.NewConn(raw, false), watch: raw}
		s.Start()
		return s, "not encrypted", nil
	}
}

// handshake runs the TLS handshake over raw, watched, for step what ("TLS"
// for ldaps, "StartTLS"), and turns a failure into advice; raw is closed
// then.
func (c *connector) handshake(ctx context.Context, raw *watchConn, what string) (*tls.Conn, error) {
	tc := tls.Client(raw, c.tls)
	raw.begin()
	err := tc.HandshakeContext(ctx)
	raw.end()
	if err != nil {
		_ = raw.Close()
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%s with %s: %w", what, c.hostport, ctx.Err())
		case raw.isStalled():
			return nil, fmt.Errorf("%s with %s: %w", what, c.hostport, c.noAnswer("during the TLS handshake"))
		}
		return nil, c.tlsError(err)
	}
	return tc, nil
}

func (c *connector) tlsDetail(st tls.ConnectionState) string {
	v := tls.VersionName(st.Version)
	if c.cfg.InsecureSkipVerify {
		return v + ", certificate NOT verified (insecure_skip_verify)"
	}
	if c.cfg.CAFile != "" {
		return v + ", certificate verified with " + c.cfg.CAFile
	}
	return v + ", certificate verified with the system roots"
}

// tlsError turns a handshake failure into advice.
func (c *connector) tlsError(err error) error {
	msg := err.Error()
	var hostErr x509.HostnameError
	var certErr *tls.CertificateVerificationError
	unknownCA := errors.As(err, new(x509.UnknownAuthorityError)) ||
		strings.Contains(msg, "certificate signed by unknown authority")
	switch {
	case errors.As(err, &hostErr) || strings.Contains(msg, "certificate is valid for") || strings.Contains(msg, "doesn't contain any IP SANs"):
		return fmt.Errorf("TLS with %s: the server's certificate does not name %q (%v) — use the host name the certificate was issued for in url", c.hostport, c.host, rootCause(err))
	case unknownCA && c.cfg.CAFile != "":
		return fmt.Errorf("TLS with %s: the server's certificate was not issued by the CA in ca_file %s (%v) — set ca_file to the CA that issued it", c.hostport, c.cfg.CAFile, rootCause(err))
	case unknownCA:
		return fmt.Errorf("TLS with %s: the server's certificate was issued by a CA this machine does not trust (%v) — set ca_file to that CA's certificate (PEM)", c.hostport, rootCause(err))
	case errors.As(err, &certErr) || strings.Contains(msg, "failed to verify certificate"):
		return fmt.Errorf("TLS with %s: the server's certificate could not be verified (%v) — check it, or set ca_file to the CA that issued it", c.hostport, rootCause(err))
	default:
		if c.cfg.StartTLS && c.scheme == "ldap" {
			return fmt.Errorf("StartTLS with %s failed: %v — check that the server offers StartTLS, or use ldaps://", c.hostport, rootCause(err))
		}
		return fmt.Errorf("TLS with %s failed: %v — check that the port speaks ldaps (usually 636)", c.hostport, rootCause(err))
	}
}

// rootCause strips go-ldap's and crypto/tls's wrappers for a shorter
// message.
func rootCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "x509: "); i >= 0 {
		return strings.TrimSuffix(msg[i:], ")")
	}
	msg = strings.TrimPrefix(msg, `LDAP Result Code 200 "Network Error": `)
	return msg
}

// passwordSource says where the bind password came from, for messages.
func (c *connector) passwordSource() string {
	switch {
	case c.cfg.BindPasswordEnv != "":
		return "$" + c.cfg.BindPasswordEnv
	case c.cfg.BindPasswordFile != "":
		return c.cfg.BindPasswordFile
	default:
		return "the prompt"
	}
}

// bind authenticates (step "bind"). It refuses a simple bind over an
// unencrypted connection unless allow_insecure is set. The password never
// appears in an error.
func (c *connector) bind(ctx context.Context, conn *session, encrypted bool) (string, error) {
	do := func(dn, password string) error {
		return conn.waitFor(func() error { return conn.Bind(dn, password) })
	}
	return c.bindWith(ctx, encrypted, do, func() { _ = conn.Close() }, conn.stalled)
}

// bindWith is bind through any connection: do is its simple bind, closeConn
// ends it when ctx is cancelled, stalled reports whether its watchdog gave
// up on it.
func (c *connector) bindWith(ctx context.Context, encrypted bool, do func(dn, password string) error, closeConn func(), stalled func() bool) (string, error) {
	if c.cfg.BindDN == "" {
		return "anonymous (no bind_dn)", nil
	}
	if !encrypted && !c.cfg.AllowInsecure {
		return "", fmt.Errorf("refusing to send the password of %s over an unencrypted connection to %s: use an ldaps:// url or start_tls = true, or set allow_insecure = true to accept the risk", c.cfg.BindDN, c.hostport)
	}
	if c.cfg.Password == "" {
		return "", fmt.Errorf("bind as %s: no password — set bind_password_env or bind_password_file, or enter it when asked", c.cfg.BindDN)
	}
	stop := context.AfterFunc(ctx, closeConn)
	err := do(c.cfg.BindDN, c.cfg.Password)
	stop()
	if err == nil {
		return "as " + c.cfg.BindDN, nil
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("bind as %s: %w", c.cfg.BindDN, ctx.Err())
	}
	if stalled() {
		return "", fmt.Errorf("bind as %s: %w", c.cfg.BindDN, c.noAnswer(""))
	}
	detail := ""
	var le *goldap.Error
	if errors.As(err, &le) && le.Err != nil && le.Err.Error() != "" {
		detail = " (server says: " + le.Err.Error() + ")"
	}
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials):
		return "", fmt.Errorf("bind as %s failed: invalid credentials — check bind_dn and the password from %s%s", c.cfg.BindDN, c.passwordSource(), detail)
	case goldap.IsErrorAnyOf(err, goldap.LDAPResultStrongAuthRequired, goldap.LDAPResultConfidentialityRequired):
		return "", fmt.Errorf("bind as %s failed: the server requires an encrypted connection — use an ldaps:// url or start_tls = true%s", c.cfg.BindDN, detail)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidDNSyntax):
		return "", fmt.Errorf("bind as %s failed: bind_dn is not a valid DN%s", c.cfg.BindDN, detail)
	case goldap.IsErrorWithCode(err, goldap.ErrorNetwork):
		return "", fmt.Errorf("bind as %s failed: the connection was lost (%v) — check the server, and the url's port and scheme", c.cfg.BindDN, rootCause(err))
	default:
		return "", fmt.Errorf("bind as %s failed: %w", c.cfg.BindDN, err)
	}
}

// open runs connect, TLS and bind, and returns a connection ready for
// searches.
func (c *connector) open(ctx context.Context) (*session, error) {
	raw, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	conn, _, err := c.secure(ctx, raw)
	if err != nil {
		return nil, err
	}
	if _, err := c.bind(ctx, conn, c.encrypted()); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}
