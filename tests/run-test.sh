#!/bin/sh
# Runs one test for automake's TAP driver: shell tests with bash, GTest
# programs with --tap. Tests find the tree through $top_srcdir/$top_builddir.
case "$1" in
  *.sh) exec bash "$@" ;;
  *)    exec "$@" --tap ;;
esac
