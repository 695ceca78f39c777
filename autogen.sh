#!/bin/sh
# Regenerate the build system from a clean clone.
exec autoreconf -fi
