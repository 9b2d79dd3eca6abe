package entra

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// Errors callers branch on; every error this package returns for them
// matches one with errors.Is and says, for a person, what to do next.
var (
	// ErrPermission: Graph or the sign-in refused for want of a permission
	// or of consent (see PermissionError).
	ErrPermission = errors.New("permission missing")
	// ErrSignIn: the sign-in failed (wrong client secret, unknown tenant or
	// application, …).
	ErrSignIn = errors.New("sign-in failed")
	// ErrSignInDeclined: the person declined the device-code sign-in.
	ErrSignInDeclined = errors.New("sign-in declined")
	// ErrSignInExpired: nobody entered the device code before it expired.
	ErrSignInExpired = errors.New("device code expired")
	// ErrNotFound: no such group or user.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous: a group name matches several groups.
	ErrAmbiguous = errors.New("ambiguous group name")
	// ErrThrottled: Graph kept throttling a request after the retries.
	ErrThrottled = errors.New("throttled by Microsoft Graph")
	// ErrUnreachable: the sign-in or Graph address could not be reached.
	ErrUnreachable = errors.New("unreachable")
	// ErrTLS: the server's certificate could not be verified.
	ErrTLS = errors.New("TLS certificate not trusted")
	// ErrTimeout: an answer did not arrive within Options.RequestTimeout.
	ErrTimeout = errors.New("timed out")
)

// The Graph application permissions usersync needs.
const (
	PermUserReadAll        = "User.Read.All"
	PermGroupMemberReadAll = "GroupMember.Read.All"
)

// PermissionError says that Graph (401/403) or the sign-in (consent
// required) refused a request, which permission is missing, and where an
// administrator grants it.
type PermissionError struct {
	// Tenant is the configured tenant name, Op what was being done.
	Tenant, Op string
	// Status is the HTTP status (401 or 403; 400 for a sign-in refusal).
	Status int
	// Code and Message are Graph's or Entra's own.
	Code, Message string
	// Permissions are the Microsoft Graph permissions the operation needs.
	Permissions []string
	// ConsentURL is the tenant's admin-consent address for the app.
	ConsentURL string
	err        error
}

func (e *PermissionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "entra %s: %s: refused", e.Tenant, e.Op)
	switch {
	case e.Status != 0:
		fmt.Fprintf(&b, " (%d %s: %s)", e.Status, e.Code, e.Message)
	case e.Code != "":
		fmt.Fprintf(&b, " (%s: %s)", e.Code, e.Message)
	}
	if e.Status == http.StatusUnauthorized {
		b.WriteString(". The access token was not accepted: sign in again; if it persists, the app registration may lack")
	} else {
		b.WriteString(". The app registration needs")
	}
	fmt.Fprintf(&b, " the Microsoft Graph permission %s with admin consent", strings.Join(e.Permissions, " and "))
	fmt.Fprintf(&b, ". An administrator of the tenant can grant it at %s", e.ConsentURL)
	return b.String()
}

// Is makes a PermissionError match ErrPermission.
func (e *PermissionError) Is(target error) bool { return target == ErrPermission }

// Unwrap returns the SDK's error.
func (e *PermissionError) Unwrap() error { return e.err }

// GraphError is any other refusal from Graph: the status, Graph's code and
// message, and what was being done.
type GraphError struct {
	Tenant, Op    string
	Status        int
	Code, Message string
	// Retries is how many times the request was retried (throttling).
	Retries int
	err     error
}

func (e *GraphError) Error() string {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return fmt.Sprintf("entra %s: %s: Microsoft Graph still answered %d %s after the retries (%s); try again later, or with fewer groups at a time",
			e.Tenant, e.Op, e.Status, e.Code, e.Message)
	case http.StatusNotFound:
		return fmt.Sprintf("entra %s: %s: not found (%s: %s)", e.Tenant, e.Op, e.Code, e.Message)
	}
	return fmt.Sprintf("entra %s: %s: Microsoft Graph answered %d %s: %s", e.Tenant, e.Op, e.Status, e.Code, e.Message)
}

// Is matches ErrThrottled for a request still throttled after the
// retries, and ErrNotFound for a 404.
func (e *GraphError) Is(target error) bool {
	switch target {
	case ErrThrottled:
		return e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	}
	return false
}

// Unwrap returns the SDK's error.
func (e *GraphError) Unwrap() error { return e.err }

// kindError is an error with a person's message that matches sentinel
// kinds and wraps a cause (whose own message may be unsafe to print).
type kindError struct {
	msg   string
	kinds []error
	err   error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() []error {
	out := append([]error(nil), e.kinds...)
	if e.err != nil {
		out = append(out, e.err)
	}
	return out
}

// graphErr turns an SDK error into one for a person. op says what was being
// done ("reading the members of group Sales"), perms which permissions it
// needs.
func (d *Directory) graphErr(op string, perms []string, err error) error {
	if err == nil {
		return nil
	}
	switch err.(type) {
	case *PermissionError, *GraphError, *kindError:
		return err // already explained
	}
	status, code, msg, ok := apiError(err)
	if !ok {
		return d.transportErr(op, d.graph, err)
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return &PermissionError{Tenant: d.cfg.Name, Op: op, Status: status, Code: code, Message: msg,
			Permissions: perms, ConsentURL: d.cfg.AdminConsentURL(), err: err}
	}
	return &GraphError{Tenant: d.cfg.Name, Op: op, Status: status, Code: code, Message: msg, err: err}
}

// apiError extracts the status, Graph's code and message from an SDK
// error, without calling its Error (which panics on an empty body).
func apiError(err error) (status int, code, msg string, ok bool) {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		status = oe.ResponseStatusCode
		if main := oe.GetErrorEscaped(); main != nil {
			if c := main.GetCode(); c != nil {
				code = *c
			}
			if m := main.GetMessage(); m != nil {
				msg = *m
			}
		}
		if msg == "" {
			msg = http.StatusText(status)
		}
		return status, code, msg, true
	}
	var ae *abstractions.ApiError
	if errors.As(err, &ae) {
		return ae.ResponseStatusCode, "", http.StatusText(ae.ResponseStatusCode), true
	}
	return 0, "", "", false
}

// transportErr explains a failure below HTTP: cancelled, timed out, TLS,
// unreachable.
func (d *Directory) transportErr(op, address string, err error) error {
	text := err.Error()
	prefix := fmt.Sprintf("entra %s: %s", d.cfg.Name, op)
	switch {
	case errors.Is(err, context.Canceled):
		return &kindError{msg: prefix + ": cancelled", kinds: []error{context.Canceled}, err: err}
	case errors.Is(err, errAttemptTimeout) || strings.Contains(text, errAttemptTimeout.Error()):
		return &kindError{msg: fmt.Sprintf("%s: no answer from %s within %s", prefix, address, d.opts.RequestTimeout),
			kinds: []error{ErrTimeout}, err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &kindError{msg: prefix + ": timed out", kinds: []error{ErrTimeout, context.DeadlineExceeded}, err: err}
	case isTLSError(err):
		return &kindError{msg: fmt.Sprintf("%s: the certificate of %s is not trusted (%s). If the server uses a private CA, set ca_file to its PEM file (or SSL_CERT_FILE); check the system clock too",
			prefix, address, tlsReason(err)), kinds: []error{ErrTLS}, err: err}
	case isUnreachable(err):
		return &kindError{msg: fmt.Sprintf("%s: cannot reach %s (%s). Check the network, any proxy (HTTPS_PROXY), and authority_host / graph_endpoint",
			prefix, address, shortCause(err)), kinds: []error{ErrUnreachable}, err: err}
	}
	return &kindError{msg: prefix + ": " + text, err: err}
}

func isTLSError(err error) bool {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var cv *tls.CertificateVerificationError
	if errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cv) {
		return true
	}
	t := err.Error()
	return strings.Contains(t, "x509: ") || strings.Contains(t, "tls: failed to verify")
}

func tlsReason(err error) string {
	t := err.Error()
	if i := strings.Index(t, "x509: "); i >= 0 {
		return firstLine(t[i:])
	}
	return shortCause(err)
}

func isUnreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	if errors.As(err, &dns) || errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) {
		return true
	}
	t := err.Error()
	return strings.Contains(t, "connection refused") || strings.Contains(t, "no such host") ||
		strings.Contains(t, "network is unreachable") || strings.Contains(t, "dial tcp")
}

// refused reports a connection refused or a host name that does not
// resolve.
func refused(err error) bool {
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &dns) && dns.IsNotFound)
}

// shortCause is the innermost line of an error, for a one-line message.
func shortCause(err error) string {
	t := err.Error()
	if i := strings.LastIndex(t, "dial tcp"); i >= 0 {
		t = t[i:]
	}
	return firstLine(t)
}

// signInRecorder remembers the last error a sign-in endpoint answered
// (azidentity does not always keep the body), so that the error can say
// whether the code expired, the person declined or consent is missing.
type signInRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	last oauthError
}

type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (r *signInRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		if isTLSError(err) || refused(err) {
			// Retrying cannot make a certificate trusted, nor (within
			// seconds) a refused port or an unknown host answer: tell
			// azcore's retry policy not to, so the person hears at once.
			err = &nonRetriable{err}
		}
		return nil, err
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr == nil {
		var oe oauthError
		if json.Unmarshal(body, &oe) == nil && oe.Code != "" {
			r.mu.Lock()
			r.last = oe
			r.mu.Unlock()
		}
	}
	return resp, nil
}

// nonRetriable marks an error azcore's retry policy must not retry.
type nonRetriable struct{ error }

func (e *nonRetriable) NonRetriable() {}

func (e *nonRetriable) Unwrap() error { return e.error }

func (r *signInRecorder) lastError() oauthError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// signInError explains a failed sign-in.
func (d *Directory) signInError(ctx context.Context, err error) error {
	name := d.cfg.Name
	last := oauthError{}
	if d.recorder != nil {
		last = d.recorder.lastError()
	}
	desc := last.Code + " " + last.Description + " " + err.Error()
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(desc, x) {
				return true
			}
		}
		return false
	}
	switch {
	case ctx.Err() != nil:
		return &kindError{msg: fmt.Sprintf("entra %s: sign-in cancelled", name), kinds: []error{ctx.Err()}, err: err}
	case has("authorization_declined"):
		return &kindError{msg: fmt.Sprintf("entra %s: the sign-in was declined. Start again and approve the request after entering the code", name),
			kinds: []error{ErrSignInDeclined, ErrSignIn}, err: err}
	case has("expired_token", "code_expired", "AADSTS70020") ||
		// MSAL stops polling when the code's lifetime is over.
		(d.cfg.auth() == AuthDeviceCode && last.Code == "authorization_pending" &&
			(errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), context.DeadlineExceeded.Error()))):
		return &kindError{msg: fmt.Sprintf("entra %s: the device code expired before anyone signed in. Start again, and enter the code within its time limit", name),
			kinds: []error{ErrSignInExpired, ErrSignIn}, err: err}
	case has("AADSTS65001", "consent_required", "AADSTS90094", "AADSTS90008", "AADSTS650057"):
		return &PermissionError{Tenant: name, Op: "signing in", Status: http.StatusBadRequest, Code: last.Code,
			Message: firstLine(last.Description), Permissions: []string{PermUserReadAll, PermGroupMemberReadAll},
			ConsentURL: d.cfg.AdminConsentURL(), err: err}
	case has("AADSTS7000215", "AADSTS7000222", "AADSTS7000216", "invalid_client"):
		return &kindError{msg: fmt.Sprintf("entra %s: the client credential was refused (%s). Check client_secret_env / client_secret_file or certificate_file; an expired secret must be renewed in the app registration",
			name, firstLine(last.Description)), kinds: []error{ErrSignIn}, err: err}
	case has("AADSTS700016", "unauthorized_client"):
		return &kindError{msg: fmt.Sprintf("entra %s: application %s is not known in tenant %s (%s). Check client_id, or have an administrator consent to the app at %s",
			name, d.cfg.ClientID, d.cfg.TenantID, firstLine(last.Description), d.cfg.AdminConsentURL()), kinds: []error{ErrSignIn}, err: err}
	case has("AADSTS90002", "invalid_tenant", "AADSTS900023"):
		return &kindError{msg: fmt.Sprintf("entra %s: tenant %s was not found at %s. Check tenant_id and cloud (or authority_host)",
			name, d.cfg.TenantID, d.authority), kinds: []error{ErrSignIn}, err: err}
	case has(errAttemptTimeout.Error()):
		return &kindError{msg: fmt.Sprintf("entra %s: signing in: no answer from %s within %s", name, d.authority, d.opts.RequestTimeout),
			kinds: []error{ErrTimeout, ErrSignIn}, err: err}
	case isTLSError(err):
		e := d.transportErr("signing in", d.authority, err).(*kindError)
		e.kinds = append(e.kinds, ErrSignIn)
		return e
	case isUnreachable(err):
		e := d.transportErr("signing in", d.authority, err).(*kindError)
		e.kinds = append(e.kinds, ErrSignIn)
		return e
	}
	detail := firstLine(last.Description)
	if detail == "" {
		detail = firstLine(err.Error())
	}
	return &kindError{msg: fmt.Sprintf("entra %s: sign-in to %s failed: %s", name, d.authority, detail), kinds: []error{ErrSignIn}, err: err}
}

// firstLine is the first line of s, without azidentity's pointer to its
// troubleshooting page.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, ". To troubleshoot"); i >= 0 {
		s = s[:i]
	}
	return s
}
