package graphtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value serves on a free loopback port,
// approves device codes only through Approve, and accepts any client.
type Options struct {
	// Addr is the address to listen on; default "127.0.0.1:0" (a free port).
	// Use loopback addresses only.
	Addr string
	// ClientID, when set, is the only client id the token endpoint accepts.
	ClientID string
	// ClientSecret, when set, must be presented by client-credential
	// requests that use a secret. Certificate assertions are accepted
	// without verification.
	ClientSecret string
	// ApproveAfter, when positive, approves a device code by itself this
	// long after it was issued, as if the person had signed in (the demo's
	// "completes by itself after a moment"). Zero waits for Approve.
	ApproveAfter time.Duration
	// DeviceCodeLifetime is how long a device code stays valid; default 15
	// minutes.
	DeviceCodeLifetime time.Duration
	// UserCode, when set, is the code every device-code sign-in shows (a
	// demo recording then looks the same each time); default random.
	UserCode string
	// SignInUser is the user principal name the device-code flow signs in;
	// default the tenant's first enabled member.
	SignInUser string
	// Latency is added to every Graph request (not to sign-in requests).
	Latency time.Duration
	// PageSize is the page size of collections requested without $top;
	// default 100, as Graph. It is also the number of objects on a page of
	// a delta round.
	PageSize int
	// DeltaTokenLifetime, when positive, is how long a deltaLink stays
	// valid: a round resumed from an older one is answered 410 Gone
	// (syncStateNotFound). Zero keeps them until ExpireDeltaTokens.
	DeltaTokenLifetime time.Duration
}

// Fault makes matching Graph requests fail. The first Skip matching
// requests pass untouched; the next Times (every one after Skip when Times
// is 0) get the fault.
type Fault struct {
	// Method matches the HTTP method; empty matches any.
	Method string
	// Path matches requests whose path after /v1.0 starts with it, e.g.
	// "/groups/ID/transitiveMembers"; empty matches every Graph request.
	Path string
	// Match, when set, must also return true. It runs under the server's
	// lock: it must not call the Server's methods.
	Match func(r *http.Request) bool
	Skip  int
	Times int
	// Status is the HTTP status to answer (429, 503, 500, 401, 403, …).
	Status int
	// RetryAfter is the Retry-After header to send (seconds, e.g. "2");
	// empty sends none.
	RetryAfter string
	// Code and Message make the Graph error body; defaults follow Status.
	Code, Message string
	// Hang never answers: the request waits until the client gives up
	// (its context or timeout) or the server closes.
	Hang bool
	// Drop starts a 200 answer, then drops the connection half-way
	// through the body (a reset stream on HTTP/2).
	Drop bool

	seen int
}

// Server is a Microsoft Graph and Microsoft Entra sign-in endpoint on
// loopback HTTPS, serving one Tenant. Clients trust it through CAFile (as
// ca_file or SSL_CERT_FILE), CertPool or Client.
type Server struct {
	opts     Options
	url      string
	srv      *http.Server
	listener net.Listener
	caPEM    []byte
	caFile   string
	tmpDir   string
	pool     *x509.CertPool
	closing  chan struct{}
	closeMu  sync.Once

	graphRequests atomic.Int64
	tokenRequests atomic.Int64
	faulted       atomic.Int64

	mu          sync.Mutex
	tenant      Tenant
	ix          tenantIndex
	changes     *changeLog
	latency     time.Duration
	faults      []*Fault
	revoked     map[string]bool
	tokens      map[string]issued
	refresh     map[string]issued
	deviceCodes map[string]*deviceCode
	log         []string
}

const maxLog = 100000

// Start serves t on a new loopback HTTPS listener until Close.
func Start(t Tenant, opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.DeviceCodeLifetime <= 0 {
		opts.DeviceCodeLifetime = 15 * time.Minute
	}
	s := &Server{
		opts:        opts,
		closing:     make(chan struct{}),
		latency:     opts.Latency,
		revoked:     map[string]bool{},
		tokens:      map[string]issued{},
		refresh:     map[string]issued{},
		deviceCodes: map[string]*deviceCode{},
		changes:     newChangeLog(),
	}
	s.setTenant(t)

	cert, err := s.makeCerts(opts.Addr)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("graphtest: certificates: %w", err)
	}
	l, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("graphtest: listen: %w", err)
	}
	s.listener = l
	s.url = "https://" + l.Addr().String()
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		// Handshake failures are what TLS tests provoke: keep them quiet.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = s.srv.ServeTLS(l, "", "") }()
	return s, nil
}

// makeCerts creates a throwaway CA, writes its PEM to a temporary file and
// returns a serving certificate it signed for loopback names.
func (s *Server) makeCerts(addr string) (tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "usersync graphtest CA", Organization: []string{"usersync tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			leafTmpl.IPAddresses = append(leafTmpl.IPAddresses, ip)
		} else {
			leafTmpl.DNSNames = append(leafTmpl.DNSNames, host)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	s.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	s.pool = x509.NewCertPool()
	s.pool.AddCert(caCert)
	dir, err := os.MkdirTemp("", "graphtest-")
	if err != nil {
		return tls.Certificate{}, err
	}
	s.tmpDir = dir
	s.caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(s.caFile, s.caPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key, Leaf: nil}, nil
}

// Close stops the server, ends hanging requests and removes the CA file.
func (s *Server) Close() {
	s.closeMu.Do(func() {
		close(s.closing)
		if s.srv != nil {
			_ = s.srv.Close()
		}
		s.cleanup()
	})
}

func (s *Server) cleanup() {
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
}

// URL is the server's base address, "https://127.0.0.1:PORT". It serves
// both as authority_host and as graph_endpoint.
func (s *Server) URL() string { return s.url }

// AuthorityHost is the sign-in address to configure (authority_host).
func (s *Server) AuthorityHost() string { return s.url + "/" }

// GraphEndpoint is the Graph address to configure (graph_endpoint).
func (s *Server) GraphEndpoint() string { return s.url }

// CAFile is the path of a PEM file holding the CA that signed the server's
// certificate, for ca_file or SSL_CERT_FILE. It is removed by Close.
func (s *Server) CAFile() string { return s.caFile }

// CAPEM is the PEM of the CA that signed the server's certificate.
func (s *Server) CAPEM() []byte { return append([]byte(nil), s.caPEM...) }

// CertPool is a pool holding only the server's CA.
func (s *Server) CertPool() *x509.CertPool { return s.pool.Clone() }

// Client is an HTTP client that trusts the server.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: s.pool.Clone()},
		ForceAttemptHTTP2: true,
	}}
}

// TenantID is the tenant id the server serves (its Tenant.ID, or
// "organizations" when that is empty).
func (s *Server) TenantID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenant.ID == "" {
		return "organizations"
	}
	return s.tenant.ID
}

// Tenant returns a copy of the data the server serves.
func (s *Server) Tenant() Tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneTenant(s.tenant)
}

// Update changes the served data under the server's lock (a user disabled,
// a member removed, …); later requests see the change, and delta rounds
// report it, under one new change sequence number.
func (s *Server) Update(fn func(t *Tenant)) {
	_ = s.change(func(t *Tenant) error { fn(t); return nil })
}

// change is Update for a fn that may refuse (and then changes nothing).
func (s *Server) change(fn func(t *Tenant) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := cloneTenant(s.tenant)
	if err := fn(&t); err != nil {
		return err
	}
	s.changes.record(&s.tenant, &t)
	s.tenant = t
	s.ix = indexOf(&s.tenant)
	return nil
}

func (s *Server) setTenant(t Tenant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenant = cloneTenant(t)
	s.ix = indexOf(&s.tenant)
}

func cloneTenant(t Tenant) Tenant {
	c := t
	c.Users = append([]User(nil), t.Users...)
	c.Groups = make([]Group, len(t.Groups))
	for i, g := range t.Groups {
		g.Members = append([]string(nil), g.Members...)
		g.Groups = append([]string(nil), g.Groups...)
		c.Groups[i] = g
	}
	return c
}

// SetLatency sets the delay added to every Graph request from now on.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// AddFault adds a fault; faults are tried in the order added, and the first
// that applies answers the request.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.seen = 0
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Permission names the server knows. Graph requests need User.Read.All
// (users, getByIds) or GroupMember.Read.All (groups and their members).
const (
	PermUserReadAll        = "User.Read.All"
	PermGroupMemberReadAll = "GroupMember.Read.All"
)

// Revoke withdraws a permission: requests that need it get 403
// Authorization_RequestDenied, as when an admin removes consent.
func (s *Server) Revoke(permission string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[strings.ToLower(permission)] = true
}

// Grant gives a revoked permission back.
func (s *Server) Grant(permission string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.revoked, strings.ToLower(permission))
}

// Requests is the number of Graph requests received (under /v1.0, faulted
// ones included, sign-in excluded).
func (s *Server) Requests() int64 { return s.graphRequests.Load() }

// TokenRequests is the number of sign-in requests received (metadata,
// device code and token endpoints).
func (s *Server) TokenRequests() int64 { return s.tokenRequests.Load() }

// Faulted is the number of requests a Fault answered.
func (s *Server) Faulted() int64 { return s.faulted.Load() }

// ResetCounters sets Requests, TokenRequests and Faulted to zero and empties
// the request log.
func (s *Server) ResetCounters() {
	s.graphRequests.Store(0)
	s.tokenRequests.Store(0)
	s.faulted.Store(0)
	s.mu.Lock()
	s.log = nil
	s.mu.Unlock()
}

// RequestLog lists the Graph requests received, oldest first, as
// "GET /v1.0/groups?$top=5" with the query decoded.
func (s *Server) RequestLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/v1.0" || strings.HasPrefix(path, "/v1.0/"):
		s.graphRequests.Add(1)
		s.serveGraph(w, r, strings.TrimPrefix(path, "/v1.0"))
	case path == "/devicelogin":
		s.serveDeviceLogin(w, r)
	default:
		s.tokenRequests.Add(1)
		s.serveSignIn(w, r)
	}
}

// fault returns the fault that applies to r, if any.
func (s *Server) fault(r *http.Request, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.Path != "" && !strings.HasPrefix(strings.ToLower(path), strings.ToLower(f.Path)) {
			continue
		}
		if f.Match != nil && !f.Match(r) {
			continue
		}
		f.seen++
		if f.seen <= f.Skip {
			continue
		}
		if f.Times > 0 && f.seen > f.Skip+f.Times {
			continue
		}
		c := *f
		return &c
	}
	return nil
}

// wait sleeps d unless the request or the server ends first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault) {
	s.faulted.Add(1)
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	}
	if f.Drop {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"@odata.context":"https://`))
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler) // net/http drops the connection, quietly
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	code, msg := f.Code, f.Message
	if code == "" || msg == "" {
		dc, dm := defaultError(f.Status)
		if code == "" {
			code = dc
		}
		if msg == "" {
			msg = dm
		}
	}
	graphError(w, f.Status, code, msg)
}

func defaultError(status int) (string, string) {
	switch status {
	case http.StatusTooManyRequests:
		return "TooManyRequests", "Too many requests."
	case http.StatusServiceUnavailable:
		return "serviceNotAvailable", "Service unavailable."
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken", "Access token validation failure."
	case http.StatusForbidden:
		return "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
	case http.StatusNotFound:
		return "Request_ResourceNotFound", "Resource does not exist."
	case http.StatusGatewayTimeout:
		return "UnknownError", "Gateway timeout."
	default:
		return "generalException", "An internal server error occurred."
	}
}

// graphError writes Graph's error JSON.
func graphError(w http.ResponseWriter, status int, code, message string) {
	reqID := newID()
	body := map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"innerError": map[string]any{
			"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
			"request-id":        reqID,
			"client-request-id": reqID,
		},
	}}
	w.Header().Set("request-id", reqID)
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// newID makes a random GUID-shaped id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
