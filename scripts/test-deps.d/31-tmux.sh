#!/bin/sh
# tmux for tests/test_viewer_terminal.py (runs `micktrace view -f` in a real terminal
# and reads the screen back). Installed only when missing; a failure stops the setup
# (the tests must not skip).
set -e
command -v tmux >/dev/null 2>&1 && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends tmux
tmux -V >/dev/null
