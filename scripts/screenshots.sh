#!/usr/bin/env bash
# Renders the README's screenshots from the real binary: usersync demo runs
# in an 80x24 tmux pane, the screens are captured with their colours
# (capture-pane -e), turned into HTML by aha and photographed by headless
# Chromium. Needs Debian's tmux, aha and chromium (installed when missing and
# run as root). Output: docs/img/results.png and docs/img/report.png.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for c in tmux aha chromium; do command -v "$c" >/dev/null || need+=("$c"); done
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core >/dev/null
  else
    echo "missing: ${need[*]} (Debian packages)" >&2; exit 1
  fi
fi

work=$(mktemp -d)
sock="usersync-shots-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/usersync" ./cmd/usersync

tmux -L "$sock" -f /dev/null new-session -d -s shots -x 80 -y 24 \
  "env TERM=xterm-256color HOME=$work XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data $work/usersync demo"

wait_for() { # wait_for TEXT: poll the screen until it shows TEXT
  for _ in $(seq 1 200); do
    tmux -L "$sock" capture-pane -t shots -p | grep -qF -- "$1" && return 0
    sleep 0.1
  done
  echo "screen never showed: $1" >&2; tmux -L "$sock" capture-pane -t shots -p >&2; exit 1
}
keys() { tmux -L "$sock" send-keys -t shots "$@"; sleep 0.2; }

shoot() { # shoot NAME: the current screen as docs/img/NAME.png
  local name=$1
  tmux -L "$sock" capture-pane -t shots -p -e > "$work/$name.ansi"
  aha --black --title "usersync" < "$work/$name.ansi" |
    sed 's|<pre>|<pre style="font-family: '"'"'DejaVu Sans Mono'"'"', monospace; font-size: 15px; line-height: 1.25; margin: 14px;">|' \
    > "$work/$name.html"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=780,500 --screenshot="$PWD/docs/img/$name.png" "file://$work/$name.html" >/dev/null 2>&1
  echo "docs/img/$name.png"
}

wait_for "All users"
keys i; wait_for "Pick a directory"
keys Enter; wait_for "Search by username"
keys -l 'an*'; keys Enter; wait_for 'Found 8 search results'
keys Down Down Down; sleep 0.3
shoot results
keys a; wait_for "7 selected"
keys Enter; wait_for "Enable users after import"
keys Space Down Enter; wait_for "the roles new users and groups get"
keys Down Down Down Down Down Space Enter; wait_for "Continue to the summary"
keys Down Down Down Enter; wait_for "What will happen"
keys Enter; wait_for "Run 2: completed"
sleep 0.3
shoot report
keys q
