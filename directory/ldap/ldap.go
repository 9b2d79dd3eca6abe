package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
)

// OIDs read from the root DSE.
const (
	oidPaging           = "1.2.840.113556.1.4.319" // paged results control
	oidActiveDirectory  = "1.2.840.113556.1.4.800" // LDAP_CAP_ACTIVE_DIRECTORY_OID
	matchingRuleInChain = "1.2.840.113556.1.4.1941"

	// adMaxPageSize is Active Directory's default MaxPageSize.
	adMaxPageSize = 1000
)

// Directory is one LDAP server, connected and bound. It satisfies
// directory.Directory. Every wait for the server's answer gives up after
// Config.Timeout without a byte from it (a search that keeps streaming
// is never cut); the connection is then closed and the read reported
// incomplete. It reconnects on the next call after a lost or abandoned
// connection; a read the loss interrupted is reported incomplete.
type Directory struct {
	cfg      Config
	sch      *schema
	c        *connector
	pageSize int

	userBase  string
	groupBase string

	// closing is cancelled by Close, to stop searches under way.
	closing context.Context
	close   context.CancelFunc

	mu     sync.Mutex
	conn   *session
	closed bool
	// ad is true when the root DSE says Active Directory (or Samba AD):
	// the in-chain matching rule and primaryGroupToken are available.
	ad bool
	// paging is false only when the root DSE lists controls and the paged
	// results control is not among them.
	paging bool
	// syncControl is false only when the root DSE lists controls and the
	// Sync Request control (RFC 4533) is not among them.
	syncControl bool
	// dirSyncControl is false only when the root DSE lists controls and
	// Active Directory's DirSync control is not among them.
	dirSyncControl bool
	// goldapOnly runs every search through go-ldap, none on a bulk
	// connection: for tests and benchmarks that compare the two.
	goldapOnly bool
}

var _ directory.Directory = (*Directory)(nil)

// Open connects to the server cfg describes, sets up TLS (ldaps:// or
// StartTLS), binds (anonymously when bind_dn is empty) and reads the root
// DSE. Every error says which step failed and what to check; none
// includes the password.
func Open(ctx context.Context, cfg Config) (*Directory, error) {
	d, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := d.c.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.label(), err)
	}
	if err := d.readRootDSE(ctx, conn); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("%s: %w", d.label(), err)
	}
	d.conn = conn
	return d, nil
}

func prepare(cfg Config) (*Directory, error) {
	label := cfg.Name
	if label == "" {
		label = cfg.URL
	}
	c, err := newConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	sch, err := newSchema(cfg.Flavor, cfg.Attributes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	base := strings.TrimSpace(cfg.BaseDN)
	d := &Directory{
		cfg:       cfg,
		sch:       sch,
		c:         c,
		pageSize:  cfg.PageSize,
		userBase:  firstNonEmpty(cfg.UserBaseDN, base),
		groupBase: firstNonEmpty(cfg.GroupBaseDN, base),
		paging:    true,

		syncControl:    true,
		dirSyncControl: true,
	}
	if d.pageSize <= 0 {
		d.pageSize = DefaultPageSize
	}
	if sch.flavor == FlavorActiveDirectory && d.pageSize > adMaxPageSize {
		d.pageSize = adMaxPageSize // AD sends no more per page anyway
	}
	for _, b := range []struct{ key, dn string }{{"user_base_dn", d.userBase}, {"group_base_dn", d.groupBase}} {
		if b.dn == "" {
			return nil, fmt.Errorf("%s: %s is empty: set base_dn (e.g. \"dc=example,dc=com\")", label, b.key)
		}
		if _, err := goldap.ParseDN(b.dn); err != nil {
			return nil, fmt.Errorf("%s: %s %q is not a valid DN: %v", label, b.key, b.dn, err)
		}
	}
	d.closing, d.close = context.WithCancel(context.Background())
	return d, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func (d *Directory) label() string {
	if d.cfg.Name != "" {
		return d.cfg.Name
	}
	return d.cfg.URL
}

// Name is the directory's configured name.
func (d *Directory) Name() string { return d.cfg.Name }

// Kind is directory.KindLDAP.
func (d *Directory) Kind() directory.Kind { return directory.KindLDAP }

// Flavor is the resolved flavor ("openldap", "active-directory",
// "freeipa").
func (d *Directory) Flavor() string { return d.sch.flavor }

// Close ends searches under way and closes the connection.
func (d *Directory) Close() error {
	d.close()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}

// client returns the live connection, reconnecting when it was lost or
// given up on. A reconnection the server leaves unanswered is an
// incomplete read (directory.ErrIncomplete): every caller is a read.
func (d *Directory) client(ctx context.Context) (*session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("directory " + d.label() + " is closed")
	}
	if d.conn != nil && !d.conn.lost() {
		return d.conn, nil
	}
	if d.conn != nil {
		_ = d.conn.Close()
		d.conn = nil
	}
	conn, err := d.c.open(ctx)
	if errors.As(err, new(*noAnswerError)) {
		return nil, &directory.IncompleteError{Reason: d.label() + ": reconnect", Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reconnect: %w", d.label(), err)
	}
	d.conn = conn
	return conn, nil
}

// opContext is ctx, also cancelled when the directory is closed.
func (d *Directory) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.closing, cancel)
	return ctx, func() { stop(); cancel() }
}

// readRootDSE learns what the server supports. A root DSE the bind may not
// read leaves the defaults: paging on, not Active Directory. It fails only
// when the server does not answer within the timeout.
func (d *Directory) readRootDSE(ctx context.Context, conn *session) error {
	var controls, caps []string
	_, err := d.stream(ctx, conn, searchReq{
		base: "", scope: goldap.ScopeBaseObject, filter: "(objectClass=*)",
		attrs: []string{"supportedControl", "supportedCapabilities"}, noPaging: true,
	}, func(e *goldap.Entry) error {
		controls = e.GetEqualFoldAttributeValues("supportedControl")
		caps = e.GetEqualFoldAttributeValues("supportedCapabilities")
		return nil
	})
	if conn.stalled() && ctx.Err() == nil {
		return fmt.Errorf("reading the root DSE: %w", d.c.noAnswer(""))
	}
	if err != nil {
		return nil
	}
	if len(controls) > 0 {
		d.paging = contains(controls, oidPaging)
		d.syncControl = contains(controls, oidSync)
		d.dirSyncControl = contains(controls, oidDirSync)
	}
	d.ad = contains(caps, oidActiveDirectory)
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == v {
			return true
		}
	}
	return false
}
