#!/usr/bin/env bash
# Debian packages the grader uses on the host itself (idempotent; root on Debian only):
#   oclgrind            the OpenCL simulator behind the kernel checks on the local backend
#   pocl-opencl-icd     Debian's PoCL (LLVM 15) as the first OpenCL platform: the PoCL bundled in
#                       pyopencl's wheel (LLVM 14) cannot build kernels on CPUs its LLVM does not
#                       know ('unknown target CPU generic', e.g. AMD Zen 5)
#   binutils libc6-dev  PoCL links its CPU kernels with ld against libc
#   gcc                 builds grader/checks/mpi_strict.c (synchronous MPI sends) into the image
#   chromium            the headless browser of the portal's end-to-end tests (Playwright drives it)
#   redis-server        the broker of `grader worker` / `grade-all --distributed` (tests start their own)
#   rabbitmq-server     the other broker Celery workers accept; tests/test_rabbitmq.py starts its own
#   postgresql          a PostgreSQL store; tests/test_store.py runs a private cluster (initdb, pg_ctl)
# Elsewhere it says what is missing and goes on: the Docker sandbox image carries its own.
set -u
PACKAGES=(oclgrind pocl-opencl-icd gcc binutils libc6-dev chromium redis-server rabbitmq-server postgresql)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    # the servers are started by whoever needs them (tests start private ones), not at install
    guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        guard=/usr/sbin/policy-rc.d
    fi
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" \
        || echo "warning: could not install ${missing[*]}" >&2
    [ -n "$guard" ] && rm -f "$guard"
else
    echo "note: missing Debian packages ${missing[*]} (apt-get install them as root)" >&2
fi
exit 0
