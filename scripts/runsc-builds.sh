# The two runsc builds the tests and the bench run against (sourced by setup.sh and test.sh;
# test/support/runsc-builds.ts names the same paths, a unit test checks they agree).
cache="${TEMPORAL_RUNSC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-runsc}"
# Current gVisor, built from its Go module. Pinned: the Go branch's newer pseudo-versions are
# expected to stop booting without gVisor's sidecar binaries (RUNSC-CURRENT.md, section 6).
runsc_release="release-20260905.0"
runsc_module="gvisor.dev/gvisor/runsc@v0.0.0-20260905035102-160fafc42237"
runsc_current="$cache/bin/runsc-$runsc_release"
# Debian's package (0.0~20221219), for the compatibility run.
runsc_debian2022="/usr/bin/runsc"
