package ldap

import (
	"strconv"
	"strings"
)

// valueRange is the range option of an attribute description as AD writes
// it: member;range=0-1499, member;range=1500-* (End is -1 for "*").
type valueRange struct {
	Start, End int
}

// last reports whether the range is the final one ("*").
func (r valueRange) last() bool { return r.End < 0 }

// splitAttr splits an attribute description into its base name and its
// range option, if any: ("member", {0,1499}, true) for "member;range=0-1499".
// Other options are ignored (they never occur in what we request).
func splitAttr(desc string) (name string, r valueRange, ranged bool, ok bool) {
	name, opts, has := strings.Cut(desc, ";")
	if !has {
		return name, valueRange{}, false, true
	}
	for opt := range strings.SplitSeq(opts, ";") {
		v, found := cutPrefixFold(opt, "range=")
		if !found {
			continue
		}
		lo, hi, dash := strings.Cut(v, "-")
		start, err := strconv.Atoi(lo)
		if !dash || err != nil || start < 0 {
			return name, valueRange{}, true, false
		}
		end := -1
		if hi != "*" {
			end, err = strconv.Atoi(hi)
			if err != nil || end < start-1 {
				return name, valueRange{}, true, false
			}
		}
		return name, valueRange{Start: start, End: end}, true, true
	}
	return name, valueRange{}, false, true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// rangeDesc is the attribute description asking for values start to
// start+step-1 of attr.
func rangeDesc(attr string, start, step int) string {
	return attr + ";range=" + strconv.Itoa(start) + "-" + strconv.Itoa(start+step-1)
}
