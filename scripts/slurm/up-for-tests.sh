#!/usr/bin/env bash
# Start the local Slurm for `make test` when this machine allows it: as root, with the
# Slurm packages installed or apt-get to install them (scripts/slurm/up.sh, which is
# idempotent and fast when the cluster already runs). Otherwise, or when it cannot start,
# say why and exit 0: the test suite runs anyway and the Slurm tests skip with the reason.
#
#   bash scripts/slurm/up-for-tests.sh
#   SLURM=0 make test      # never install or start Slurm
set -uo pipefail
cd "$(dirname "$0")"

say() { printf 'make test: %s\n' "$*"; }
skip() { say "$1; the Slurm tests will skip"; exit 0; }

case ${SLURM:-auto} in
    0 | no | off | false) skip "SLURM=${SLURM}: not starting the local Slurm" ;;
esac
if [[ $(id -u) != 0 ]]; then
    bash status.sh >/dev/null 2>&1 && { say "the local Slurm is running"; exit 0; }
    skip "not root: the local Slurm is not started (sudo make slurm-up starts it)"
fi
if [[ ! -x /usr/sbin/slurmctld ]] && ! command -v apt-get >/dev/null; then
    skip "Slurm is not installed and there is no apt-get to install it (Debian/Ubuntu only)"
fi
say "starting the local Slurm (scripts/slurm/up.sh; SLURM=0 to skip)"
bash up.sh || skip "the local Slurm could not be started (see above)"
