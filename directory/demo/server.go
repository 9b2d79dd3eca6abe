package demo

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
)

// OIDs the server announces in its root DSE.
const (
	oidPaging   = "1.2.840.113556.1.4.319"
	oidStartTLS = "1.3.6.1.4.1.1466.20037"
)

// Options configure an LDAPServer. The zero value serves SampleData with
// StartTLS on a free loopback port.
type Options struct {
	// Addr is the address to listen on; default "127.0.0.1:0" (a free
	// port). Use loopback addresses only: the data is made up, the bind
	// password is no secret.
	Addr string
	// Data is what to serve; default SampleData().
	Data *Data
	// CAFile is where to write the PEM of the CA that signed the server's
	// certificate (for ca_file). Default: a file in a new temporary
	// directory, removed by Close. A file named here is left in place.
	CAFile string
	// LDAPS serves TLS from the first byte (an ldaps:// URL) instead of
	// plain LDAP with StartTLS.
	LDAPS bool
	// SizeLimit is the most entries one search returns, whether paged or
	// not, before it ends with sizeLimitExceeded (0: no limit). A client's
	// own smaller size limit applies too.
	SizeLimit int
	// AllowAnonymous lets connections that have not bound search. Without
	// it only the root DSE can be read anonymously.
	AllowAnonymous bool
	// AllowInsecureBind accepts a simple bind with a password on a
	// connection without TLS. Without it such a bind is refused with
	// confidentialityRequired, as Active Directory does.
	AllowInsecureBind bool
	// Latency is how long the server takes over every hundred entries one
	// search answer sends (a page, when paged), as a distant or busy
	// server would: an answer of fewer than a hundred entries comes at
	// once, a group of thousands of members takes a while to read. 0: no
	// delay.
	Latency time.Duration
}

// latencyEvery is how many entries a search answer sends between two
// Options.Latency pauses.
const latencyEvery = 100

// LDAPServer is an LDAP server in this process, on loopback: it answers
// binds, StartTLS and searches — with filters, scopes, size limits,
// attribute selection and the paged-results control — over data held in
// memory. It never changes its data: every other operation is refused.
//
// gldap (github.com/jimlambrt/gldap) speaks the protocol; the server's
// public port relays to it, so that Close can end every connection.
type LDAPServer struct {
	opts  Options
	data  *Data
	tree  *tree
	tls   *tls.Config
	caPEM []byte

	caFile string
	tmpDir string // made by StartLDAP, removed by Close

	srv   *gldap.Server
	front *front

	mu    sync.Mutex
	conns map[int]*connState

	binds, searches atomic.Int64
	closeOnce       sync.Once
}

// connState is what the server knows about one client connection.
type connState struct {
	tls   bool
	bound string // the DN bound as; "" anonymous
}

// StartLDAP starts a server: it checks the data, makes a CA and a server
// certificate for 127.0.0.1 and localhost, writes the CA's PEM, and
// listens. Stop it with Close.
func StartLDAP(opts Options) (*LDAPServer, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	data := opts.Data
	if data == nil {
		data = SampleData()
	}
	t, err := buildTree(data)
	if err != nil {
		return nil, fmt.Errorf("demo LDAP data: %w", err)
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("demo LDAP address %q: %w", opts.Addr, err)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
		ips = append(ips, ip)
	}
	c, err := newCerts(ips, []string{"localhost"})
	if err != nil {
		return nil, fmt.Errorf("demo LDAP certificates: %w", err)
	}
	s := &LDAPServer{
		opts: opts, data: data, tree: t, tls: c.serverConfig(), caPEM: c.caPEM,
		conns: map[int]*connState{},
	}
	if err := s.writeCA(); err != nil {
		return nil, err
	}
	if err := s.listen(); err != nil {
		s.removeTemp()
		return nil, err
	}
	return s, nil
}

func (s *LDAPServer) writeCA() error {
	s.caFile = s.opts.CAFile
	if s.caFile == "" {
		dir, err := os.MkdirTemp("", "usersync-demo-ldap-")
		if err != nil {
			return fmt.Errorf("demo LDAP: %w", err)
		}
		s.tmpDir = dir
		s.caFile = filepath.Join(dir, "ca.pem")
	}
	if err := os.WriteFile(s.caFile, s.caPEM, 0o644); err != nil {
		s.removeTemp()
		return fmt.Errorf("demo LDAP: write the CA certificate: %w", err)
	}
	return nil
}

func (s *LDAPServer) removeTemp() {
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
}

// listen starts gldap on a free loopback port and the public listener in
// front of it.
func (s *LDAPServer) listen() error {
	mux, err := gldap.NewMux()
	if err != nil {
		return err
	}
	for _, err := range []error{
		mux.Bind(s.bind),
		mux.ExtendedOperation(s.startTLS, gldap.ExtendedOperationStartTLS),
		mux.Search(s.search),
		mux.Modify(readOnly(gldap.ApplicationModifyResponse)),
		mux.Add(readOnly(gldap.ApplicationAddResponse)),
		mux.Delete(readOnly(gldap.ApplicationDelResponse)),
		mux.DefaultRoute(readOnly(gldap.ApplicationExtendedResponse)),
	} {
		if err != nil {
			return fmt.Errorf("demo LDAP routes: %w", err)
		}
	}
	var backend string
	// gldap cannot say which port it got: take a free one, and try again in
	// the rare case another process takes it first.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("demo LDAP: %w", err)
		}
		backend = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()), gldap.WithOnClose(s.forget))
		if err != nil {
			return err
		}
		if err := srv.Router(mux); err != nil {
			return err
		}
		var runOpts []gldap.Option
		if s.opts.LDAPS {
			runOpts = append(runOpts, gldap.WithTLSConfig(s.tls))
		}
		done := make(chan error, 1)
		go func() { done <- srv.Run(backend, runOpts...) }()
		err = waitReady(srv, done)
		if err == nil {
			s.srv = srv
			break
		}
		_ = srv.Stop()
		if attempt == 4 {
			return fmt.Errorf("demo LDAP: listen on loopback: %w", err)
		}
	}
	f, err := newFront(s.opts.Addr, backend)
	if err != nil {
		_ = s.srv.Stop()
		return fmt.Errorf("demo LDAP: listen on %s: %w", s.opts.Addr, err)
	}
	s.front = f
	return nil
}

// waitReady waits until gldap listens, or its Run failed.
func waitReady(srv *gldap.Server, done chan error) error {
	deadline := time.Now().Add(5 * time.Second)
	for !srv.Ready() {
		select {
		case err := <-done:
			return fmt.Errorf("gldap stopped: %v", err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("gldap did not start within 5s")
		}
	}
	// Ready is also true when listening failed; Run returns right after.
	select {
	case err := <-done:
		if err == nil {
			err = errors.New("gldap stopped")
		}
		return err
	case <-time.After(2 * time.Millisecond):
		return nil
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// URL is the address to configure: ldap://127.0.0.1:PORT (with StartTLS)
// or ldaps://127.0.0.1:PORT when Options.LDAPS is set.
func (s *LDAPServer) URL() string {
	scheme := "ldap"
	if s.opts.LDAPS {
		scheme = "ldaps"
	}
	return (&url.URL{Scheme: scheme, Host: s.Addr()}).String()
}

// Addr is the host:port the server listens on.
func (s *LDAPServer) Addr() string { return s.front.ln.Addr().String() }

// StartTLS reports whether clients must use StartTLS (an ldap:// URL):
// true unless Options.LDAPS.
func (s *LDAPServer) StartTLS() bool { return !s.opts.LDAPS }

// Suffix is the naming context (base_dn).
func (s *LDAPServer) Suffix() string { return s.data.Suffix }

// BindDN is the DN of the account that may bind (bind_dn).
func (s *LDAPServer) BindDN() string { return s.data.BindDN }

// BindPassword is that account's password.
func (s *LDAPServer) BindPassword() string { return s.data.BindPassword }

// CAFile is the path of the PEM file of the CA that signed the server's
// certificate (ca_file).
func (s *LDAPServer) CAFile() string { return s.caFile }

// CAPEM is the PEM of the CA that signed the server's certificate.
func (s *LDAPServer) CAPEM() []byte { return append([]byte(nil), s.caPEM...) }

// Binds is the number of bind requests received.
func (s *LDAPServer) Binds() int64 { return s.binds.Load() }

// Searches is the number of search requests received; a paged search
// counts once per page.
func (s *LDAPServer) Searches() int64 { return s.searches.Load() }

// DropConnections cuts every open client connection, as a failing network
// would, and returns how many it cut. The server keeps listening.
func (s *LDAPServer) DropConnections() int { return s.front.drop() }

// Close ends every connection, stops the server and removes the CA file
// when StartLDAP chose where it went. It is safe to call more than once.
func (s *LDAPServer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.front.close()
		err = s.srv.Stop()
		s.removeTemp()
	})
	return err
}

func (s *LDAPServer) state(id int) *connState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.conns[id]
	if st == nil {
		st = &connState{tls: s.opts.LDAPS}
		s.conns[id] = st
	}
	return st
}

func (s *LDAPServer) forget(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, id)
}

// bind checks a simple bind against the one account; an empty name and
// password is an anonymous bind.
func (s *LDAPServer) bind(w *gldap.ResponseWriter, r *gldap.Request) {
	s.binds.Add(1)
	answer := func(code int, diag string) {
		resp := r.NewBindResponse(gldap.WithResponseCode(code))
		if diag != "" {
			resp.SetDiagnosticMessage(diag)
		}
		_ = w.Write(resp)
	}
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		answer(gldap.ResultAuthMethodNotSupported, "only simple binds are supported")
		return
	}
	st := s.state(r.ConnectionID())
	s.mu.Lock()
	st.bound = "" // a failed bind leaves the connection anonymous
	secure := st.tls
	s.mu.Unlock()

	name, password := strings.TrimSpace(m.UserName), string(m.Password)
	switch {
	case name == "" && password == "":
		answer(gldap.ResultSuccess, "")
		return
	case password == "":
		answer(gldap.ResultUnwillingToPerform, "unauthenticated bind (DN with no password) disallowed")
		return
	case !secure && !s.opts.AllowInsecureBind:
		answer(gldap.ResultConfidentialityRequired, "simple bind with a password requires TLS: use StartTLS or ldaps://")
		return
	}
	okDN := dnString(name) == dnString(s.data.BindDN)
	okPW := subtle.ConstantTimeCompare([]byte(password), []byte(s.data.BindPassword)) == 1
	if !okDN || !okPW {
		answer(gldap.ResultInvalidCredentials, "invalid credentials")
		return
	}
	s.mu.Lock()
	st.bound = s.data.BindDN
	s.mu.Unlock()
	answer(gldap.ResultSuccess, "")
}

// startTLS answers the StartTLS extended operation and then runs the TLS
// handshake on the connection.
func (s *LDAPServer) startTLS(w *gldap.ResponseWriter, r *gldap.Request) {
	st := s.state(r.ConnectionID())
	s.mu.Lock()
	already := st.tls
	s.mu.Unlock()
	if already {
		resp := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultOperationsError))
		resp.SetResponseName(gldap.ExtendedOperationStartTLS)
		resp.SetDiagnosticMessage("TLS is already in effect on this connection")
		_ = w.Write(resp)
		return
	}
	resp := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	resp.SetResponseName(gldap.ExtendedOperationStartTLS)
	if err := w.Write(resp); err != nil {
		return
	}
	if err := r.StartTLS(s.tls); err != nil {
		return // the client gave up or does not trust us; the connection ends
	}
	s.mu.Lock()
	st.tls = true
	s.mu.Unlock()
}

// readOnly refuses an operation the server does not do (it never changes
// its data), answering with the response type the request expects.
func readOnly(responseType int) gldap.HandlerFunc {
	return func(w *gldap.ResponseWriter, r *gldap.Request) {
		_ = w.Write(r.NewResponse(gldap.WithApplicationCode(responseType), gldap.WithResponseCode(gldap.ResultUnwillingToPerform),
			gldap.WithDiagnosticMessage("the usersync demo directory is read-only: only bind, StartTLS and search are supported")))
	}
}

// search answers a search: the root DSE, or the entries in scope that
// match the filter, a page at a time when asked, within the size limits.
func (s *LDAPServer) search(w *gldap.ResponseWriter, r *gldap.Request) {
	s.searches.Add(1)
	done := func(code int, diag, matched string, controls ...gldap.Control) {
		resp := r.NewSearchDoneResponse(gldap.WithResponseCode(code))
		if diag != "" {
			resp.SetDiagnosticMessage(diag)
		}
		if matched != "" {
			resp.SetMatchedDN(matched)
		}
		if len(controls) > 0 {
			resp.SetControls(controls...)
		}
		_ = w.Write(resp)
	}
	m, err := r.GetSearchMessage()
	if err != nil {
		done(gldap.ResultProtocolError, "not a search request", "")
		return
	}
	f, err := compileFilter(m.Filter)
	if err != nil {
		done(gldap.ResultProtocolError, "bad filter: "+err.Error(), "")
		return
	}
	sel := selectAttrs(m.Attributes)

	if strings.TrimSpace(m.BaseDN) == "" && m.Scope == gldap.BaseObject {
		root := s.rootDSE()
		if s.tree.matches(root, f) {
			if err := w.Write(entryResponse(r, root, sel, m.TypesOnly)); err != nil {
				return
			}
		}
		done(gldap.ResultSuccess, "", "")
		return
	}

	st := s.state(r.ConnectionID())
	s.mu.Lock()
	bound := st.bound
	s.mu.Unlock()
	if bound == "" && !s.opts.AllowAnonymous {
		done(gldap.ResultInsufficientAccessRights, "anonymous searches are not allowed: bind first", "")
		return
	}

	candidates, code, diag, matched := s.scope(m.BaseDN, m.Scope)
	if code != gldap.ResultSuccess {
		done(code, diag, matched)
		return
	}
	var hits []*node
	for _, n := range candidates {
		if s.tree.matches(n, f) {
			hits = append(hits, n)
		}
	}

	limit := s.opts.SizeLimit
	if m.SizeLimit > 0 && (limit == 0 || int(m.SizeLimit) < limit) {
		limit = int(m.SizeLimit)
	}
	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if pc, ok := c.(*gldap.ControlPaging); ok {
			paging = pc
		}
	}

	start, end := 0, len(hits)
	fingerprint := searchFingerprint(m, limit)
	if paging != nil {
		if len(paging.Cookie) > 0 {
			off, ok := parseCookie(paging.Cookie, fingerprint)
			if !ok || off > len(hits) {
				done(gldap.ResultUnwillingToPerform, "paged results cookie is invalid", "")
				return
			}
			start = off
		}
		if paging.PagingSize == 0 {
			// A page size of 0 abandons the paged search.
			done(gldap.ResultSuccess, "", "", &gldap.ControlPaging{})
			return
		}
		end = min(start+int(paging.PagingSize), len(hits))
	}
	exceeded := false
	if limit > 0 && end > limit {
		end, exceeded = max(limit, start), true
	}
	for i, n := range hits[start:end] {
		if err := w.Write(entryResponse(r, n, sel, m.TypesOnly)); err != nil {
			return // the client is gone
		}
		if s.opts.Latency > 0 && (i+1)%latencyEvery == 0 {
			time.Sleep(s.opts.Latency)
		}
	}
	var controls []gldap.Control
	if paging != nil {
		pc := &gldap.ControlPaging{PagingSize: uint32(len(hits))}
		if end < len(hits) && !exceeded {
			pc.Cookie = makeCookie(end, fingerprint)
		}
		controls = append(controls, pc)
	}
	if exceeded {
		done(gldap.ResultSizeLimitExceeded, fmt.Sprintf("size limit of %d entries exceeded", limit), "", controls...)
		return
	}
	done(gldap.ResultSuccess, "", "", controls...)
}

// scope lists the entries a search with this base and scope considers,
// in the data's order, or says why there are none.
func (s *LDAPServer) scope(base string, scope gldap.Scope) ([]*node, int, string, string) {
	var key string
	if strings.TrimSpace(base) != "" {
		d, err := goldap.ParseDN(base)
		if err != nil {
			return nil, gldap.ResultInvalidDNSyntax, fmt.Sprintf("invalid DN %q", base), ""
		}
		key = dnKey(d)
		if s.tree.byKey[key] == nil {
			matched := ""
			for i := 1; i < len(d.RDNs); i++ {
				if n := s.tree.byKey[dnKey(&goldap.DN{RDNs: d.RDNs[i:]})]; n != nil {
					matched = n.dn
					break
				}
			}
			return nil, gldap.ResultNoSuchObject, fmt.Sprintf("%s does not exist", base), matched
		}
	}
	var out []*node
	for _, n := range s.tree.nodes {
		switch {
		case key == "": // the empty base: the whole tree (the root DSE aside)
			if scope == gldap.SingleLevel && n.key != s.tree.suffix {
				continue
			}
		case scope == gldap.BaseObject:
			if n.key != key {
				continue
			}
		case scope == gldap.SingleLevel:
			if n.parent != key || n.key == key {
				continue
			}
		case scope == gldap.WholeSubtree:
			if n.key != key && !slices.Contains(n.ancestors, key) {
				continue
			}
		default:
			return nil, gldap.ResultProtocolError, fmt.Sprintf("unknown scope %d", scope), ""
		}
		out = append(out, n)
	}
	return out, gldap.ResultSuccess, "", ""
}

// rootDSE is the server's root entry: naming context, supported version,
// controls and extensions.
func (s *LDAPServer) rootDSE() *node {
	n := &node{byName: map[string]*values{}}
	_ = n.add("objectClass", []string{"top", "OpenLDAProotDSE"})
	_ = n.add("namingContexts", []string{s.data.Suffix})
	_ = n.add("supportedLDAPVersion", []string{"3"})
	_ = n.add("supportedControl", []string{oidPaging})
	_ = n.add("supportedExtension", []string{oidStartTLS})
	_ = n.add("vendorName", []string{"usersync demo directory (gldap)"})
	return n
}

// attrSelection is which attributes a search asked for.
type attrSelection struct {
	user, op, none bool
	names          map[string]bool // lower case
}

// selectAttrs reads a search's attribute list: none or "*" means every
// user attribute, "+" every operational one, "1.1" (alone) none. An
// attribute description with options (member;range=0-1499) names nothing
// the server has: it sends values whole, as OpenLDAP does.
func selectAttrs(list []string) attrSelection {
	sel := attrSelection{names: map[string]bool{}}
	if len(list) == 0 {
		sel.user = true
		return sel
	}
	for _, a := range list {
		a = strings.TrimSpace(a)
		switch a {
		case "*":
			sel.user = true
		case "+":
			sel.op = true
		case "1.1", "":
		default:
			sel.names[strings.ToLower(a)] = true
		}
	}
	sel.none = !sel.user && !sel.op && len(sel.names) == 0
	return sel
}

func (sel attrSelection) wants(v *values) bool {
	switch {
	case sel.none:
		return false
	case sel.names[strings.ToLower(v.name)]:
		return true
	case v.op:
		return sel.op
	default:
		return sel.user
	}
}

// entryResponse is n as a search result entry with the selected
// attributes.
func entryResponse(r *gldap.Request, n *node, sel attrSelection, typesOnly bool) *gldap.SearchResponseEntry {
	resp := r.NewSearchResponseEntry(n.dn)
	for _, v := range n.attrs {
		if !sel.wants(v) {
			continue
		}
		if typesOnly {
			resp.AddAttribute(v.name, nil)
		} else {
			resp.AddAttribute(v.name, v.vals)
		}
	}
	return resp
}

// searchFingerprint ties a paging cookie to the search it came from.
func searchFingerprint(m *gldap.SearchMessage, limit int) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%d\x00%s", dnString(m.BaseDN), m.Scope, m.Filter, limit, strings.ToLower(strings.Join(m.Attributes, ",")))
	return h.Sum32()
}

// makeCookie is an opaque paging cookie: where the next page starts, and
// the fingerprint of the search. The data never changes, so the offset
// stays right between pages.
func makeCookie(offset int, fp uint32) []byte {
	return []byte(fmt.Sprintf("%d.%08x", offset, fp))
}

func parseCookie(c []byte, fp uint32) (int, bool) {
	off, sum, ok := strings.Cut(string(c), ".")
	if !ok || sum != fmt.Sprintf("%08x", fp) {
		return 0, false
	}
	n, err := strconv.Atoi(off)
	return n, err == nil && n >= 0
}
