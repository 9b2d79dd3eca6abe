package graphtest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Delta queries (/users/delta and /groups/delta) as Graph answers them:
//
//   - every change to the tenant (Update and the hooks built on it:
//     SetUserMail, SetAccountEnabled, AddUser, DeleteUser, AddMember,
//     RemoveMember, DeleteGroup) is recorded under a new change sequence
//     number, with the properties it changed;
//   - a round without a token lists every user or group (a group with all
//     its direct members in members@delta); $deltatoken=latest answers at
//     once with no item and a deltaLink for now; a deltaLink's token holds
//     a sequence number, and its round lists the objects changed since, in
//     the properties the round's $select names (a group whose membership
//     changed, when members is selected, with members@delta: the members
//     added, and those removed marked @removed), deleted ones as their id
//     marked @removed (users {"reason":"changed"}, a soft delete; groups
//     {"reason":"deleted"});
//   - rounds are paged (Options.PageSize objects a page) with
//     @odata.nextLink, and end with @odata.deltaLink; a group with more
//     than deltaMembersPerItem member changes comes several times, each
//     with a part of them;
//   - a token of another server, an older generation (ExpireDeltaTokens)
//     or older than Options.DeltaTokenLifetime is answered 410 Gone with
//     syncStateNotFound.
//
// The $select of a round is kept in its tokens, as Graph encodes the
// query into them: requests with a token ignore the query's $select.

// deltaMembersPerItem is the most members@delta entries one appearance of
// a group carries; a group with more comes again on the same or the next
// page with the rest.
const deltaMembersPerItem = 100

// changeLog records the tenant's changes for delta queries.
type changeLog struct {
	seq     int64  // the last change's sequence number
	epoch   string // this server's; tokens of another server are unknown
	gen     int64  // ExpireDeltaTokens bumps it
	users   map[string][]objEvent
	groups  map[string][]objEvent
	members map[string][]memberEvent // by lower-cased group id
}

// objEvent is one change to a user or group.
type objEvent struct {
	seq int64
	id  string
	// props are the properties changed; nil for a creation or deletion,
	// which every $select sees.
	props []string
}

// memberEvent is a member added to or removed from a group.
type memberEvent struct {
	seq   int64
	ref   objRef
	added bool
}

func newChangeLog() *changeLog {
	return &changeLog{epoch: newID(), users: map[string][]objEvent{}, groups: map[string][]objEvent{}, members: map[string][]memberEvent{}}
}

// diffProps lists the properties whose values differ.
func diffProps(a, b map[string]any) []string {
	var out []string
	for k, v := range b {
		if fmt.Sprint(a[k]) != fmt.Sprint(v) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// record logs what changed from old to cur under the next sequence number.
func (l *changeLog) record(old, cur *Tenant) {
	seq := l.seq + 1
	changed := false
	logObj := func(m map[string][]objEvent, id string, props []string) {
		k := strings.ToLower(id)
		m[k] = append(m[k], objEvent{seq: seq, id: id, props: props})
		changed = true
	}
	oldIx, curIx := indexOf(old), indexOf(cur)
	for i := range cur.Users {
		u := &cur.Users[i]
		switch o := oldIx.users[strings.ToLower(u.ID)]; {
		case o == nil:
			logObj(l.users, u.ID, nil)
		case *o != *u:
			if props := diffProps(userValues(o), userValues(u)); len(props) > 0 {
				logObj(l.users, u.ID, props)
			}
		}
	}
	for i := range old.Users {
		if curIx.users[strings.ToLower(old.Users[i].ID)] == nil {
			logObj(l.users, old.Users[i].ID, nil)
		}
	}
	for i := range cur.Groups {
		g := &cur.Groups[i]
		o := oldIx.groups[strings.ToLower(g.ID)]
		var before Group
		if o == nil {
			logObj(l.groups, g.ID, nil)
		} else {
			before = *o
			if props := diffProps(groupValues(o), groupValues(g)); len(props) > 0 {
				logObj(l.groups, g.ID, props)
			}
		}
		k := strings.ToLower(g.ID)
		for _, d := range []struct {
			kind        objKind
			before, now []string
		}{{kindUser, before.Members, g.Members}, {kindGroup, before.Groups, g.Groups}} {
			had, has := lowerSet(d.before), lowerSet(d.now)
			for _, id := range d.now {
				if !had[strings.ToLower(id)] {
					l.members[k] = append(l.members[k], memberEvent{seq: seq, ref: objRef{d.kind, id}, added: true})
					changed = true
				}
			}
			for _, id := range d.before {
				if !has[strings.ToLower(id)] {
					l.members[k] = append(l.members[k], memberEvent{seq: seq, ref: objRef{d.kind, id}})
					changed = true
				}
			}
		}
	}
	for i := range old.Groups {
		if curIx.groups[strings.ToLower(old.Groups[i].ID)] == nil {
			logObj(l.groups, old.Groups[i].ID, nil)
		}
	}
	if changed {
		l.seq = seq
	}
}

func lowerSet(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[strings.ToLower(id)] = true
	}
	return m
}

// deltaState is what a delta token holds.
type deltaState struct {
	Epoch string   `json:"e"`
	Gen   int64    `json:"g"`
	Coll  string   `json:"c"`
	From  int64    `json:"f"` // changes after this sequence number; -1: everything
	To    int64    `json:"t"` // up to this one (skip tokens)
	Sel   []string `json:"s,omitempty"`
	Off   int      `json:"o,omitempty"`
	At    int64    `json:"a"` // when the round's deltaLink was issued (Unix ns)
}

const deltaTokenPrefix = "gt1."

func encodeDeltaToken(st deltaState) string {
	b, _ := json.Marshal(st)
	return deltaTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodeDeltaToken(tok string) (deltaState, bool) {
	rest, ok := strings.CutPrefix(tok, deltaTokenPrefix)
	if !ok {
		return deltaState{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return deltaState{}, false
	}
	var st deltaState
	if json.Unmarshal(b, &st) != nil {
		return deltaState{}, false
	}
	return st, true
}

// ExpireDeltaTokens makes every delta token issued so far unknown: rounds
// resumed from them are answered 410 Gone (syncStateNotFound), as Graph
// answers a token it no longer keeps state for.
func (s *Server) ExpireDeltaTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes.gen++
}

// ChangeSeq is the sequence number of the tenant's last change (0 before
// any).
func (s *Server) ChangeSeq() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes.seq
}

// deltaSelect parses a delta round's $select; groups accept members.
func deltaSelect(q url.Values, coll string) ([]string, error) {
	raw := q.Get("$select")
	if raw == "" {
		return nil, nil
	}
	known := userProps
	if coll == "groups" {
		known = append(slices.Clone(groupProps), "members")
	}
	var sel []string
	for _, n := range strings.Split(raw, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.ContainsFunc(known, func(p string) bool { return strings.EqualFold(p, n) }) {
			return nil, fmt.Errorf("Could not find a property named '%s' on type 'microsoft.graph.%s'.", n, strings.TrimSuffix(coll, "s"))
		}
		sel = append(sel, n)
	}
	return sel, nil
}

func selects(sel []string, prop string) bool {
	return len(sel) == 0 || slices.ContainsFunc(sel, func(p string) bool { return strings.EqualFold(p, prop) })
}

// sees reports whether a round selecting sel reports e.
func (e objEvent) sees(sel []string) bool {
	if e.props == nil || len(sel) == 0 {
		return true
	}
	for _, p := range e.props {
		if selects(sel, p) {
			return true
		}
	}
	return false
}

// serveDelta answers /users/delta and /groups/delta (coll "users" or
// "groups").
func (s *Server) serveDelta(w http.ResponseWriter, r *http.Request, coll string) {
	q := r.URL.Query()
	s.mu.Lock()
	l := s.changes
	now := deltaState{Epoch: l.epoch, Gen: l.gen, Coll: coll, From: l.seq, At: time.Now().UnixNano()}
	lifetime := s.opts.DeltaTokenLifetime
	s.mu.Unlock()
	gone := func() {
		graphError(w, http.StatusGone, "syncStateNotFound",
			"The sync state generation is not found or has expired. Please do a full resync (remove the deltaToken).")
	}
	valid := func(st deltaState) bool {
		return st.Epoch == now.Epoch && st.Gen == now.Gen && st.Coll == coll && st.From <= now.From &&
			(lifetime <= 0 || time.Duration(now.At-st.At) <= lifetime)
	}
	var st deltaState
	switch tok, skip := q.Get("$deltatoken"), q.Get("$skiptoken"); {
	case skip != "":
		var ok bool
		if st, ok = decodeDeltaToken(skip); !ok || !valid(st) {
			gone()
			return
		}
	case tok == "latest":
		sel, err := deltaSelect(q, coll)
		if err != nil {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", err.Error())
			return
		}
		now.Sel = sel
		s.writeDelta(w, r, coll, nil, "", encodeDeltaToken(now))
		return
	case tok != "":
		var ok bool
		if st, ok = decodeDeltaToken(tok); !ok || !valid(st) {
			gone()
			return
		}
		st.To, st.Off = now.From, 0
	default:
		sel, err := deltaSelect(q, coll)
		if err != nil {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", err.Error())
			return
		}
		st = now
		st.Sel, st.From, st.To = sel, -1, now.From
	}

	s.mu.Lock()
	items := s.deltaItems(st)
	end := min(st.Off+s.opts.PageSize, len(items))
	values := make([]map[string]any, 0, end-st.Off)
	for _, it := range items[min(st.Off, len(items)):end] {
		values = append(values, s.renderDelta(it, st.Sel))
	}
	s.mu.Unlock()
	if end < len(items) {
		next := st
		next.Off = end
		s.writeDelta(w, r, coll, values, encodeDeltaToken(next), "")
		return
	}
	last := st
	last.From, last.To, last.Off, last.At = st.To, 0, 0, now.At
	s.writeDelta(w, r, coll, values, "", encodeDeltaToken(last))
}

func (s *Server) writeDelta(w http.ResponseWriter, r *http.Request, coll string, values []map[string]any, skip, delta string) {
	if values == nil {
		values = []map[string]any{}
	}
	base := "https://" + r.Host + "/v1.0"
	body := map[string]any{"@odata.context": base + "/$metadata#" + coll, "value": values}
	link := base + "/" + coll + "/delta()?"
	if skip != "" {
		body["@odata.nextLink"] = link + "$skiptoken=" + skip
	} else {
		body["@odata.deltaLink"] = link + "$deltatoken=" + delta
	}
	writeJSON(w, http.StatusOK, body)
}

// deltaItem is one object of a round: an object as it is now (or its
// removal), and for a group a part of its members@delta.
type deltaItem struct {
	ref     objRef
	members []memberEvent
	delta   bool // members@delta is sent, if empty
}

// deltaItems lists a round's objects. Called with s.mu held.
func (s *Server) deltaItems(st deltaState) []deltaItem {
	kind := kindUser
	if st.Coll == "groups" {
		kind = kindGroup
	}
	withMembers := kind == kindGroup && selects(st.Sel, "members")
	var items []deltaItem
	add := func(ref objRef, members []memberEvent) {
		gone := kind == kindGroup && s.ix.groups[strings.ToLower(ref.id)] == nil
		if !withMembers || len(members) == 0 || gone {
			items = append(items, deltaItem{ref: ref, delta: withMembers && st.From < 0})
			return
		}
		for start := 0; start < len(members); start += deltaMembersPerItem {
			items = append(items, deltaItem{ref: ref, members: members[start:min(start+deltaMembersPerItem, len(members))], delta: true})
		}
	}
	if st.From < 0 {
		for _, o := range s.allOfLocked(kind) {
			var members []memberEvent
			if withMembers {
				for _, m := range s.tenant.directMembers(o.id, s.ix) {
					members = append(members, memberEvent{ref: m, added: true})
				}
			}
			add(o, members)
		}
		return items
	}
	events := s.changes.users
	if kind == kindGroup {
		events = s.changes.groups
	}
	type changed struct {
		ref  objRef
		last int64
	}
	byKey := map[string]*changed{}
	note := func(k, id string, seq int64) {
		c := byKey[k]
		if c == nil {
			c = &changed{ref: objRef{kind, id}}
			byKey[k] = c
		}
		if seq > c.last {
			c.last, c.ref.id = seq, id
		}
	}
	inRound := func(seq int64) bool { return seq > st.From && seq <= st.To }
	for k, evs := range events {
		for _, e := range evs {
			if inRound(e.seq) && e.sees(st.Sel) {
				note(k, e.id, e.seq)
			}
		}
	}
	if withMembers {
		for k, evs := range s.changes.members {
			for _, e := range evs {
				if inRound(e.seq) {
					id := k
					if g := s.ix.groups[k]; g != nil {
						id = g.ID
					} else if evs := s.changes.groups[k]; len(evs) > 0 {
						id = evs[len(evs)-1].id
					}
					note(k, id, e.seq)
				}
			}
		}
	}
	list := make([]*changed, 0, len(byKey))
	for _, c := range byKey {
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *changed) int {
		if c := cmp.Compare(a.last, b.last); c != 0 {
			return c
		}
		return strings.Compare(strings.ToLower(a.ref.id), strings.ToLower(b.ref.id))
	})
	for _, c := range list {
		var members []memberEvent
		if withMembers {
			// The last word on each member in the round, in order of
			// first mention.
			last := map[string]int{}
			for _, e := range s.changes.members[strings.ToLower(c.ref.id)] {
				if !inRound(e.seq) {
					continue
				}
				mk := strings.ToLower(e.ref.id)
				if i, ok := last[mk]; ok {
					members[i] = e
					continue
				}
				last[mk] = len(members)
				members = append(members, e)
			}
		}
		add(c.ref, members)
	}
	return items
}

// allOfLocked is allOf with s.mu held.
func (s *Server) allOfLocked(k objKind) []objRef {
	var out []objRef
	if k == kindUser {
		for _, u := range s.tenant.Users {
			out = append(out, objRef{kindUser, u.ID})
		}
		return out
	}
	for _, g := range s.tenant.Groups {
		out = append(out, objRef{kindGroup, g.ID})
	}
	return out
}

// renderDelta renders one item of a round. Called with s.mu held.
func (s *Server) renderDelta(it deltaItem, sel []string) map[string]any {
	var props []string
	for _, p := range sel {
		if !strings.EqualFold(p, "members") {
			props = append(props, p)
		}
	}
	if len(sel) > 0 && len(props) == 0 {
		props = []string{"id"}
	}
	v := s.render(it.ref, props, false)
	if v == nil {
		reason := "changed" // users: soft-deleted, restorable for 30 days
		if it.ref.kind == kindGroup {
			reason = "deleted"
		}
		return map[string]any{"id": it.ref.id, "@removed": map[string]any{"reason": reason}}
	}
	if it.ref.kind == kindUser {
		delete(v, "@odata.type") // Graph leaves the collection's type implied
	}
	if it.delta {
		list := make([]map[string]any, 0, len(it.members))
		for _, m := range it.members {
			t := "#microsoft.graph.user"
			if m.ref.kind == kindGroup {
				t = "#microsoft.graph.group"
			}
			item := map[string]any{"@odata.type": t, "id": m.ref.id}
			if !m.added {
				item["@removed"] = map[string]any{"reason": "deleted"}
			}
			list = append(list, item)
		}
		v["members@delta"] = list
	}
	return v
}
