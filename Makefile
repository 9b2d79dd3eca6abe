# usersync — build, test and benchmark.
#
#   make test    go vet + go test -race ./... + the demo.tape checks (installs slapd, samba and tmux
#                first when they are missing and we are root on Debian)
#   make bench   the benchmarks that hold our speed targets
#   make build   the usersync binary in ./bin

GO ?= go
export CGO_ENABLED := 1

# Debian packages the tests need: a real OpenLDAP server, its tools, tmux to
# drive the real binary as a person would, and a Samba AD DC (samba, and its
# AD schema files in samba-ad-provision, a mere Recommends of samba) for
# Active Directory's change feed. TEST_COMMANDS are the files whose absence
# triggers the install.
TEST_PACKAGES := slapd ldap-utils tmux openssl samba samba-ad-provision
TEST_COMMANDS := /usr/sbin/slapd /usr/sbin/slapadd /usr/bin/tmux /usr/sbin/samba /usr/bin/samba-tool \
	/usr/share/samba/setup/ad-schema

.PHONY: all build test deps vet bench fmt clean tape

all: build

build:
	$(GO) build -o bin/usersync ./cmd/usersync

deps:
	@missing=""; for c in $(TEST_COMMANDS); do [ -e "$$c" ] || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing (Debian: $(TEST_PACKAGES))"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEST_PACKAGES) >/dev/null; \
	  else \
	    echo "missing$$missing: install the Debian packages $(TEST_PACKAGES) (as root), or the tests that need them are skipped"; \
	  fi; \
	fi

vet:
	$(GO) vet ./...

test: deps vet
	$(GO) test -race -timeout 30m ./...
	$(MAKE) tape

# demo.tape is checked twice: VHS (pinned in tools/go.mod) validates it, and
# tools/tape replays it against the built binary in tmux.
tape:
	$(GO) tool -modfile=tools/go.mod vhs validate demo.tape
	cd tools && $(GO) vet ./... && $(GO) test -count=1 -timeout 10m ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./store/ ./tui/... ./directory/... ./cmd/...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
