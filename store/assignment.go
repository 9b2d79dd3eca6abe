package store

import (
	"fmt"
	"strings"
)

// ParseAssignment reads ROLE or ROLE@SCOPE (scope global when absent): the
// one parser of that spelling, for --roles, `roles assign` and the TUI.
func ParseAssignment(s string) (Assignment, error) {
	role, scope, found := strings.Cut(strings.TrimSpace(s), "@")
	role, scope = strings.TrimSpace(role), strings.TrimSpace(scope)
	if role == "" || (found && scope == "") {
		return Assignment{}, fmt.Errorf("%w: %q is not ROLE or ROLE@SCOPE", ErrInvalid, s)
	}
	if scope == "" {
		scope = GlobalScope
	}
	return Assignment{Role: role, Scope: scope}, nil
}

// ParseAssignments reads a comma-separated list of ROLE or ROLE@SCOPE.
func ParseAssignments(s string) ([]Assignment, error) {
	var out []Assignment
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		a, err := ParseAssignment(part)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// String is ROLE, or ROLE@SCOPE when the scope is not global: the spelling
// ParseAssignment reads.
func (a Assignment) String() string {
	if a.Scope == "" || a.Scope == GlobalScope {
		return a.Role
	}
	return a.Role + "@" + a.Scope
}

// FormatAssignments writes assignments as ParseAssignments reads them.
func FormatAssignments(as []Assignment) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ",")
}
