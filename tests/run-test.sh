#!/bin/sh
# Runs one test for automake's TAP driver: shell tests with bash, GTest
# programs with --tap. Tests find the tree through $top_srcdir/$top_builddir.
# Under ASan, GLib's slice allocator (GLib < 2.76) would hide its chunks
# from the sanitizer: every allocation goes through malloc there.
if [ -n "${LG_SANITIZERS:-}" ]; then
  G_SLICE=always-malloc
  export G_SLICE
fi
case "$1" in
  *.sh) exec bash "$@" ;;
  *)    exec "$@" --tap ;;
esac
