package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// The steps Test reports, in order.
const (
	StepConfig  = "config"
	StepConnect = "connect"
	StepTLS     = "TLS"
	StepBind    = "bind"
	StepBaseDN  = "base DN"
)

// Check is the outcome of one step of Test.
type Check struct {
	// Step is one of StepConfig, StepConnect, StepTLS, StepBind, StepBaseDN.
	Step string
	// OK is true when the step succeeded; Skipped when an earlier step
	// failed and this one was not tried.
	OK      bool
	Skipped bool
	// Detail says what was found ("127.0.0.1:636", "TLS 1.3, certificate
	// verified with /etc/ssl/corp-ca.pem", "as cn=svc,…", "dc=example,dc=com
	// exists").
	Detail string
	// Warning is set on a step that succeeded in a way worth a second look
	// (an unencrypted connection, an unverified certificate).
	Warning string
	// Err says what went wrong and what to check; never the password.
	Err error
}

// String renders the check on one line, for the CLI.
func (c Check) String() string {
	switch {
	case c.Skipped:
		return fmt.Sprintf("-  %-8s skipped", c.Step)
	case !c.OK:
		return fmt.Sprintf("✗  %-8s %v", c.Step, c.Err)
	case c.Warning != "":
		return fmt.Sprintf("!  %-8s %s (%s)", c.Step, c.Detail, c.Warning)
	default:
		return fmt.Sprintf("✓  %-8s %s", c.Step, c.Detail)
	}
}

// Test checks a server configuration step by step — connect, TLS, bind,
// base DN — as `usersync directories test NAME` shows it. It always returns
// one Check per step; after a failure, the later steps are Skipped.
// CheckErr returns the first failure.
func Test(ctx context.Context, cfg Config) []Check {
	steps := []string{StepConnect, StepTLS, StepBind, StepBaseDN}
	var out []Check
	skipRest := func() []Check {
		have := map[string]bool{}
		for _, c := range out {
			have[c.Step] = true
		}
		for _, s := range steps {
			if !have[s] {
				out = append(out, Check{Step: s, Skipped: true})
			}
		}
		return out
	}
	d, err := prepare(cfg)
	if err != nil {
		out = append(out, Check{Step: StepConfig, Err: err})
		return skipRest()
	}
	c := d.c

	raw, err := c.dial(ctx)
	if err != nil {
		out = append(out, Check{Step: StepConnect, Err: err})
		return skipRest()
	}
	out = append(out, Check{Step: StepConnect, OK: true, Detail: c.hostport})

	conn, detail, err := c.secure(ctx, raw)
	if err != nil {
		out = append(out, Check{Step: StepTLS, Err: err})
		return skipRest()
	}
	defer conn.Close()
	tlsCheck := Check{Step: StepTLS, OK: true, Detail: detail}
	switch {
	case !c.encrypted():
		tlsCheck.Warning = "passwords and directory data cross the network in clear; use ldaps:// or start_tls = true"
	case cfg.InsecureSkipVerify:
		tlsCheck.Warning = "anyone in the middle can impersonate the server; set ca_file instead of insecure_skip_verify"
	}
	out = append(out, tlsCheck)

	detail, err = c.bind(ctx, conn, c.encrypted())
	if err != nil {
		out = append(out, Check{Step: StepBind, Err: err})
		return skipRest()
	}
	out = append(out, Check{Step: StepBind, OK: true, Detail: detail})

	var found, missing []string
	var baseErr error
	for _, b := range uniqueDNs(d.userBase, d.groupBase) {
		_, err := d.stream(ctx, conn, searchReq{
			base: b, scope: goldap.ScopeBaseObject, filter: "(objectClass=*)",
			attrs: []string{"1.1"}, noPaging: true,
		}, func(*goldap.Entry) error { return nil })
		switch {
		case err == nil:
			found = append(found, b)
		case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
			missing = append(missing, b)
		default:
			baseErr = errors.Join(baseErr, fmt.Errorf("reading %s: %w", b, err))
		}
	}
	switch {
	case len(missing) > 0:
		out = append(out, Check{Step: StepBaseDN, Err: fmt.Errorf("%s not found on the server — check base_dn, user_base_dn and group_base_dn (and that the bind account may read them)", strings.Join(missing, " and "))})
	case baseErr != nil:
		out = append(out, Check{Step: StepBaseDN, Err: baseErr})
	default:
		out = append(out, Check{Step: StepBaseDN, OK: true, Detail: strings.Join(found, " and ") + " readable"})
	}
	return out
}

// CheckErr returns the error of the first failed check, or nil.
func CheckErr(checks []Check) error {
	for _, c := range checks {
		if !c.OK && !c.Skipped {
			return fmt.Errorf("%s: %w", c.Step, c.Err)
		}
	}
	return nil
}

// uniqueDNs drops DNs equal to an earlier one.
func uniqueDNs(dns ...string) []string {
	var out []string
	for _, dn := range dns {
		dup := false
		for _, have := range out {
			if sameDN(dn, have) {
				dup = true
			}
		}
		if !dup {
			out = append(out, dn)
		}
	}
	return out
}
