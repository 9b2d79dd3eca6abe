package ldap

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
)

const (
	// rangeStep is how many member values one ranged request asks for:
	// Active Directory's default MaxValRange. A server that sends fewer per
	// range (an older AD sends 1000) is followed from where it stopped.
	rangeStep = 1500
	// batchSize is how many DNs, usernames or IDs one OR filter holds.
	batchSize = 100
)

// ReadGroup reads the group with the given external ID and all its user
// members, nested groups followed (each group once, so cycles end) and
// flattened. It never returns a silently short member list: whatever kept
// a part of the membership from being read — a timeout, a lost connection,
// a size or time limit, a referral to a partition that may hold users, a
// ranged member attribute not read to its end — is named in
// GroupRead.Incomplete, with the members read so far. It returns an error
// when the group itself cannot be read, and an error wrapping
// directory.ErrIncomplete when ctx is cancelled or when the server stops
// answering for the timeout: a read that stalled part-way is not used at
// all, and the error says the server did not answer.
//
// Members are read without a round trip per member: Active Directory's
// in-chain matching rule where the server is AD; elsewhere the member
// values (member;range=… requested explicitly, so large AD-style groups are
// read whole), resolved by a memberOf search for large groups and by OR
// filters of up to 100 RDNs or usernames otherwise. GroupRead.Nested lists
// the external IDs of the nested groups the read went through.
func (d *Directory) ReadGroup(ctx context.Context, externalID string) (*directory.GroupRead, error) {
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	idv, err := d.sch.idFilterValue(externalID)
	if err != nil {
		return nil, fmt.Errorf("read group from %s: %w", d.label(), err)
	}
	conn, err := d.client(ctx)
	if err != nil {
		return nil, err
	}
	// On Active Directory the server resolves the membership; elsewhere the
	// member values are read with the group.
	inChain := d.ad && d.sch.flavor == FlavorActiveDirectory && d.sch.memberOf != ""
	attrs := d.groupReadAttrs()
	if inChain {
		attrs = []string{"objectClass", d.sch.groupName, d.sch.externalID, d.sch.displayName}
	}
	var found []*goldap.Entry
	refs, err := d.stream(ctx, conn, searchReq{
		base: d.groupBase, scope: goldap.ScopeWholeSubtree,
		filter: "(&" + d.sch.groupFilter + "(" + d.sch.externalID + "=" + idv + "))",
		attrs:  attrs,
	}, func(e *goldap.Entry) error {
		found = append(found, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read group %s from %s: %w", externalID, d.label(), err)
	}
	switch {
	case len(found) == 0 && referralsMatter(refs):
		return nil, &directory.IncompleteError{Reason: fmt.Sprintf("group %s was not found on %s, which referred the search to %s (not followed)", externalID, d.label(), strings.Join(refs, ", "))}
	case len(found) == 0:
		return nil, fmt.Errorf("read group from %s: no group with %s %s under %s", d.label(), d.sch.externalID, externalID, d.groupBase)
	case len(found) > 1:
		return nil, fmt.Errorf("read group from %s: %d groups have %s %s", d.label(), len(found), d.sch.externalID, externalID)
	}
	g := found[0]
	group, err := d.sch.groupEntry(g)
	if err != nil {
		return nil, fmt.Errorf("read group from %s: %w", d.label(), err)
	}

	r := newMemberReader(d, conn)
	if inChain {
		r.inChain(ctx, g)
	} else {
		r.walk(ctx, g)
	}
	if ctx.Err() != nil {
		return nil, &directory.IncompleteError{
			Reason: fmt.Sprintf("reading group %s from %s was cancelled after %d members", group.Name, d.label(), len(r.members)),
			Err:    ctx.Err(),
		}
	}
	if conn.stalled() {
		return nil, &directory.IncompleteError{
			Reason: d.c.noAnswer(fmt.Sprintf("while group %s was read (%d members read, none used)", group.Name, len(r.members))).Error(),
		}
	}
	read := &directory.GroupRead{Group: group, Members: r.members, Nested: r.nested, Incomplete: r.reason()}
	read.Group.MemberCount = len(r.members)
	if !read.Complete() {
		read.Group.MemberCount = -1
	}
	return read, nil
}

// groupReadAttrs are requested for every group whose members are read:
// the plain member attributes (whole, on servers that ignore ranges) and
// their first range (Active Directory).
func (d *Directory) groupReadAttrs() []string {
	a := d.sch.groupAttrs()
	for _, m := range d.sch.memberAttrs {
		a = append(a, rangeDesc(m, 0, rangeStep))
	}
	return a
}

// memberReader gathers the users of one group read.
type memberReader struct {
	d       *Directory
	conn    *session
	visited map[string]bool // groups seen, by DN key
	users   map[string]bool // users added, by DN key
	members []directory.Entry
	queue   []*goldap.Entry
	// nested are the external IDs of the groups found nested in the one
	// read, at any depth.
	nested  []string
	reasons []string
	stop    bool
	bases   []lookupBase
}

type lookupBase struct {
	dn     string
	parsed *goldap.DN
}

func newMemberReader(d *Directory, conn *session) *memberReader {
	return &memberReader{d: d, conn: conn, visited: map[string]bool{}, users: map[string]bool{}, bases: d.lookupBases()}
}

// lookupBases are where members are looked up: the user and group bases;
// when one holds the other, once under the outer one.
func (d *Directory) lookupBases() []lookupBase {
	var bases []lookupBase
	for _, b := range []string{d.userBase, d.groupBase} {
		p, err := goldap.ParseDN(b)
		if err != nil {
			continue
		}
		covered := false
		for i, have := range bases {
			if under(p, have.parsed) {
				covered = true
				break
			}
			if under(have.parsed, p) {
				bases[i] = lookupBase{dn: b, parsed: p}
				covered = true
				break
			}
		}
		if !covered {
			bases = append(bases, lookupBase{dn: b, parsed: p})
		}
	}
	return bases
}

// incomplete records why the read is not whole.
func (r *memberReader) incomplete(reason string) {
	for _, have := range r.reasons {
		if have == reason {
			return
		}
	}
	r.reasons = append(r.reasons, reason)
}

// fail records a failed search; after a lost or stalled connection or a
// cancelled ctx nothing more can be read.
func (r *memberReader) fail(ctx context.Context, what string, err error) {
	var ie *directory.IncompleteError
	if errors.As(err, &ie) {
		r.incomplete(what + ": " + ie.Reason)
	} else {
		r.incomplete(what + ": " + err.Error())
	}
	if ctx.Err() != nil || r.conn.lost() {
		r.stop = true
	}
}

func (r *memberReader) referrals(what string, refs []string) {
	for _, ref := range refs {
		if !harmlessReferral(ref) {
			r.incomplete(fmt.Sprintf("%s: the server referred to %s, which usersync does not follow", what, ref))
		}
	}
}

func (r *memberReader) reason() string {
	const most = 5
	if len(r.reasons) <= most {
		return strings.Join(r.reasons, "; ")
	}
	return strings.Join(r.reasons[:most], "; ") + fmt.Sprintf("; and %d more", len(r.reasons)-most)
}

// addUser adds a user entry once. An entry without its external ID is
// kept as an error row (ExternalID "").
func (r *memberReader) addUser(e *goldap.Entry) {
	k, ok := dnKey(e.DN)
	if !ok || r.users[k] {
		return
	}
	r.users[k] = true
	u, _ := r.d.sch.userEntry(e)
	r.members = append(r.members, u)
}

// addGroup queues a nested group once (cycles end here) and notes its
// external ID.
func (r *memberReader) addGroup(e *goldap.Entry) {
	if !r.enqueue(e) {
		return
	}
	if id, err := r.d.sch.externalIDOf(e); err == nil {
		r.nested = append(r.nested, id)
	}
}

// enqueue queues group e for expansion unless it was seen already.
func (r *memberReader) enqueue(e *goldap.Entry) bool {
	k, ok := dnKey(e.DN)
	if !ok || r.visited[k] {
		return false
	}
	r.visited[k] = true
	r.queue = append(r.queue, e)
	return true
}

func (r *memberReader) search(ctx context.Context, what string, req searchReq, fn func(*goldap.Entry)) bool {
	if req.scope == 0 {
		req.scope = goldap.ScopeWholeSubtree
	}
	refs, err := r.d.stream(ctx, r.conn, req, func(e *goldap.Entry) error { fn(e); return nil })
	r.referrals(what, refs)
	if err != nil {
		r.fail(ctx, what, err)
		return false
	}
	return true
}

// inChain reads an Active Directory group's users with one search using
// LDAP_MATCHING_RULE_IN_CHAIN (nested groups resolved by the server), the
// IDs of its nested groups with another, and the users whose primary
// group it is (never listed in member).
func (r *memberReader) inChain(ctx context.Context, g *goldap.Entry) {
	s := r.d.sch
	r.search(ctx, "members of "+g.DN, searchReq{
		base:   r.d.userBase,
		filter: s.inChainFilter(g.DN),
		attrs:  s.userAttrs(),
	}, r.addUser)
	if r.stop {
		return
	}
	// The nested groups, at any depth, for GroupRead.Nested.
	r.search(ctx, "groups nested in "+g.DN, searchReq{
		base:   r.d.groupBase,
		filter: "(&" + s.groupFilter + "(" + s.memberOf + ":" + matchingRuleInChain + ":=" + goldap.EscapeFilter(g.DN) + "))",
		attrs:  []string{s.externalID},
	}, func(e *goldap.Entry) {
		if id, err := s.externalIDOf(e); err == nil && !sameDN(e.DN, g.DN) {
			r.nested = append(r.nested, id)
		}
	})
	if r.stop || !s.primaryGroup {
		return
	}
	var token string
	r.search(ctx, "primary group token of "+g.DN, searchReq{
		base: g.DN, scope: goldap.ScopeBaseObject, filter: "(objectClass=*)",
		attrs: []string{"primaryGroupToken"}, noPaging: true,
	}, func(e *goldap.Entry) { token = e.GetEqualFoldAttributeValue("primaryGroupToken") })
	if token == "" || r.stop {
		return
	}
	r.search(ctx, "users whose primary group is "+g.DN, searchReq{
		base:   r.d.userBase,
		filter: s.primaryGroupFilter(token),
		attrs:  s.userAttrs(),
	}, r.addUser)
}

// inChainFilter matches the users that are members of groupDN, directly
// or through nested groups (Active Directory's LDAP_MATCHING_RULE_IN_CHAIN).
func (s *schema) inChainFilter(groupDN string) string {
	return "(&" + s.userFilter + "(" + s.memberOf + ":" + matchingRuleInChain + ":=" + goldap.EscapeFilter(groupDN) + "))"
}

// primaryGroupFilter matches the users whose primary group has the given
// primaryGroupToken.
func (s *schema) primaryGroupFilter(token string) string {
	return "(&" + s.userFilter + "(primaryGroupID=" + goldap.EscapeFilter(token) + "))"
}

// walk reads the group's member values and those of every nested group,
// breadth first, each group once.
func (r *memberReader) walk(ctx context.Context, top *goldap.Entry) {
	r.enqueue(top)
	for len(r.queue) > 0 && !r.stop {
		if ctx.Err() != nil {
			r.incomplete("cancelled")
			return
		}
		g := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		r.expand(ctx, g)
	}
}

// expand resolves the direct members of group g: users are added, groups
// queued.
func (r *memberReader) expand(ctx context.Context, g *goldap.Entry) {
	s := r.d.sch
	pending := map[string]string{} // DN key → DN as written
	for _, attr := range s.memberAttrs {
		for _, dn := range r.values(ctx, g, attr) {
			if strings.TrimSpace(dn) == "" {
				continue // the empty DN: how a groupOfNames says "no members"
			}
			k, ok := dnKey(dn)
			if !ok {
				r.incomplete(fmt.Sprintf("%s of %s: %q is not a DN", attr, g.DN, dn))
				continue
			}
			if r.visited[k] || r.users[k] {
				continue
			}
			pending[k] = dn
		}
	}
	var uids []string
	if s.memberUID != "" {
		uids = r.values(ctx, g, s.memberUID)
	}
	if r.stop {
		return
	}
	if s.memberOf != "" && len(pending) > batchSize {
		r.byMemberOf(ctx, g.DN, pending)
	}
	if !r.stop {
		r.byRDN(ctx, g.DN, pending)
	}
	if !r.stop {
		r.byUsername(ctx, g.DN, uids)
	}
}

// values reads all values of attr of group g: the plain attribute when the
// server sends it whole, else range after range until the one ending in
// "*". A range that stops early makes the read incomplete.
func (r *memberReader) values(ctx context.Context, g *goldap.Entry, attr string) []string {
	var out []string
	next, ranged := -1, false
	for _, a := range g.Attributes {
		name, rg, isRanged, ok := splitAttr(a.Name)
		if !strings.EqualFold(name, attr) {
			continue
		}
		if !isRanged {
			out = append(out, a.Values...)
			continue
		}
		ranged = true
		if !ok || rg.Start != 0 {
			r.incomplete(fmt.Sprintf("%s of %s: the server answered with %q where %s was asked", attr, g.DN, a.Name, rangeDesc(attr, 0, rangeStep)))
			return out
		}
		out = append(out, a.Values...)
		if !rg.last() {
			next = rg.End + 1
		}
	}
	if !ranged || next < 0 {
		return out
	}
	for next >= 0 {
		if ctx.Err() != nil || r.stop {
			r.incomplete(fmt.Sprintf("%s of %s: read up to value %d only", attr, g.DN, next))
			return out
		}
		want := rangeDesc(attr, next, rangeStep)
		var got *goldap.Entry
		ok := r.search(ctx, "reading "+want+" of "+g.DN, searchReq{
			base: g.DN, scope: goldap.ScopeBaseObject, filter: "(objectClass=*)",
			attrs: []string{want}, noPaging: true,
		}, func(e *goldap.Entry) { got = e })
		if !ok {
			return out
		}
		var (
			plain []string
			found bool
			rg    valueRange
			vals  []string
			desc  string
		)
		if got != nil {
			for _, a := range got.Attributes {
				name, ar, isRanged, pok := splitAttr(a.Name)
				if !strings.EqualFold(name, attr) {
					continue
				}
				if !isRanged {
					plain = append(plain, a.Values...)
					continue
				}
				if !pok {
					continue
				}
				found, rg, vals, desc = true, ar, a.Values, a.Name
			}
		}
		switch {
		case found && rg.Start == next && (rg.last() || rg.End >= rg.Start):
			out = append(out, vals...)
			if rg.last() {
				return out
			}
			next = rg.End + 1
		case found:
			r.incomplete(fmt.Sprintf("%s of %s: the server answered with %q where %s was asked", attr, g.DN, desc, want))
			return out
		case len(plain) > 0:
			// The server switched to sending the attribute whole.
			return append(out, plain...)
		default:
			r.incomplete(fmt.Sprintf("%s of %s: the ranged read stopped after %d values (no %s in the answer)", attr, g.DN, next, want))
			return out
		}
	}
	return out
}

// byMemberOf resolves pending member DNs of a large group with two
// searches on memberOf (users, then nested groups), where the server keeps
// memberOf (OpenLDAP's memberof overlay, AD, FreeIPA). The member values
// stay the truth: an entry memberOf names but member does not is ignored,
// and members memberOf misses are left for byRDN.
func (r *memberReader) byMemberOf(ctx context.Context, groupDN string, pending map[string]string) {
	s := r.d.sch
	take := func(group bool) func(*goldap.Entry) {
		return func(e *goldap.Entry) {
			k, ok := dnKey(e.DN)
			if !ok {
				return
			}
			if _, want := pending[k]; !want {
				return
			}
			delete(pending, k)
			if group {
				r.addGroup(e)
			} else {
				r.addUser(e)
			}
		}
	}
	mo := "(" + s.memberOf + "=" + goldap.EscapeFilter(groupDN) + ")"
	if !r.search(ctx, "members of "+groupDN, searchReq{
		base: r.d.userBase, filter: "(&" + s.userFilter + mo + ")", attrs: s.userAttrs(),
	}, take(false)) {
		return
	}
	r.search(ctx, "groups in "+groupDN, searchReq{
		base: r.d.groupBase, filter: "(&" + s.groupFilter + mo + ")", attrs: r.d.groupReadAttrs(),
	}, take(true))
}

// byRDN resolves member DNs in batches: one search per batch, an OR of the
// DNs' first RDNs (uid=…, cn=…), and keeps the entries whose DN is one of
// the batch's. DNs outside the user and group bases are not users usersync
// reads; DNs that match nothing are dangling references.
func (r *memberReader) byRDN(ctx context.Context, groupDN string, pending map[string]string) {
	s := r.d.sch
	if len(pending) == 0 {
		return
	}
	attrs := dedupFold(append(s.userAttrs(), r.d.groupReadAttrs()...))
	for _, b := range r.bases {
		var batch []string
		wanted := map[string]bool{}
		flush := func() {
			if len(batch) == 0 {
				return
			}
			filter := "(&(|" + s.userFilter + s.groupFilter + ")(|" + strings.Join(batch, "") + "))"
			r.search(ctx, "members of "+groupDN, searchReq{base: b.dn, filter: filter, attrs: attrs}, func(e *goldap.Entry) {
				k, ok := dnKey(e.DN)
				if !ok || !wanted[k] {
					return // same RDN, elsewhere
				}
				delete(pending, k)
				if s.isGroup(e) {
					r.addGroup(e)
				} else {
					r.addUser(e)
				}
			})
			batch, wanted = batch[:0], map[string]bool{}
		}
		for k, dn := range pending {
			if r.stop {
				return
			}
			p, err := goldap.ParseDN(dn)
			if err != nil || len(p.RDNs) == 0 || !under(p, b.parsed) {
				continue
			}
			assert, ok := rdnFilter(p.RDNs[0])
			if !ok {
				r.incomplete(fmt.Sprintf("member %s of %s: its RDN cannot be searched for", dn, groupDN))
				continue
			}
			batch = append(batch, assert)
			wanted[k] = true
			if len(batch) >= batchSize {
				flush()
			}
		}
		flush()
		if r.stop {
			return
		}
	}
}

// rdnFilter is the filter matching an RDN's attribute values.
func rdnFilter(rdn *goldap.RelativeDN) (string, bool) {
	var parts []string
	for _, a := range rdn.Attributes {
		if a.Type == "" || checkAttrName(a.Type) != nil {
			return "", false
		}
		parts = append(parts, "("+a.Type+"="+goldap.EscapeFilter(a.Value)+")")
	}
	switch len(parts) {
	case 0:
		return "", false
	case 1:
		return parts[0], true
	default:
		return "(&" + strings.Join(parts, "") + ")", true
	}
}

// byUsername resolves posixGroup memberUid values in batches.
func (r *memberReader) byUsername(ctx context.Context, groupDN string, uids []string) {
	s := r.d.sch
	for start := 0; start < len(uids) && !r.stop; start += batchSize {
		end := min(start+batchSize, len(uids))
		var b strings.Builder
		for _, u := range uids[start:end] {
			b.WriteString("(" + s.username + "=" + goldap.EscapeFilter(u) + ")")
		}
		r.search(ctx, "memberUid of "+groupDN, searchReq{
			base: r.d.userBase, filter: "(&" + s.userFilter + "(|" + b.String() + "))", attrs: s.userAttrs(),
		}, r.addUser)
	}
}

// referralsMatter reports whether any of refs may hold users: every
// referral does except those to Active Directory's application and
// configuration partitions (DomainDnsZones, ForestDnsZones,
// Configuration), which a search from the domain root always returns.
func referralsMatter(refs []string) bool {
	for _, ref := range refs {
		if !harmlessReferral(ref) {
			return true
		}
	}
	return false
}

// unfollowed is the incomplete read that referrals which matter
// (referralsMatter) make, nil when none does.
func unfollowed(refs []string) error {
	if !referralsMatter(refs) {
		return nil
	}
	return &directory.IncompleteError{Reason: fmt.Sprintf("the server referred to %s, which usersync does not follow", strings.Join(refs, ", "))}
}

func harmlessReferral(ref string) bool {
	u, err := url.Parse(ref)
	if err != nil {
		return false
	}
	dn, err := goldap.ParseDN(strings.TrimPrefix(u.Path, "/"))
	if err != nil || len(dn.RDNs) == 0 {
		return false
	}
	first := dn.RDNs[0].Attributes
	if len(first) != 1 {
		return false
	}
	t, v := first[0].Type, first[0].Value
	switch {
	case strings.EqualFold(t, "DC") && (strings.EqualFold(v, "DomainDnsZones") || strings.EqualFold(v, "ForestDnsZones")):
		return true
	case strings.EqualFold(t, "CN") && strings.EqualFold(v, "Configuration"):
		return true
	}
	return false
}
