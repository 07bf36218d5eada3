#!/usr/bin/env bash
# Show the state of the single-node Slurm cluster started by scripts/slurm/up.sh.
#
#   bash scripts/slurm/status.sh
#
# Prints one line per daemon (process alive AND answering), then `sinfo`.
# Exit 0 when every daemon is up and the node is usable (idle/mixed/allocated/
# completing), 1 otherwise (then `bash scripts/slurm/up.sh` repairs it).
set -uo pipefail

# is_running PID: process exists and is not a zombie (PID 1 on these machines reaps
# exited daemons only every ~2 s, so /proc/PID lingers after a daemon exits)
is_running() {
    local st
    read -r st 2>/dev/null <"/proc/$1/stat" || return 1
    st=${st##*) }
    [[ ${st:0:1} != Z ]]
}

pid_of() { # NAME PIDFILE: pid of the running daemon, or nothing
    local name=$1 pidfile=$2 pid comm
    if [[ -r $pidfile ]] && read -r pid 2>/dev/null <"$pidfile" && [[ $pid =~ ^[0-9]+$ ]] \
        && read -r comm 2>/dev/null <"/proc/$pid/comm" && [[ $comm == "$name" ]] && is_running "$pid"; then
        echo "$pid"; return
    fi
    for pid in $(pgrep -x "$name"); do
        is_running "$pid" && { echo "$pid"; return; }
    done
}

ALL_UP=1
report() { # LABEL PID PROBE_OK [DETAIL]
    local label=$1 pid=$2 ok=$3 detail=${4:-}
    if [[ -n $pid && $ok == 1 ]]; then
        printf '%-10s up    pid %-7s %s\n' "$label" "$pid" "$detail"
    elif [[ -n $pid ]]; then
        printf '%-10s DOWN  pid %-7s not answering %s\n' "$label" "$pid" "$detail"; ALL_UP=0
    else
        printf '%-10s DOWN  %s\n' "$label" "$detail"; ALL_UP=0
    fi
}

if ! command -v sinfo >/dev/null || [[ ! -x /usr/sbin/slurmctld ]]; then
    echo "slurm is not installed (run: bash scripts/slurm/up.sh)"
    exit 1
fi

pid=$(pid_of munged /run/munge/munged.pid)
ok=0; munge -n -t 10 2>/dev/null | unmunge >/dev/null 2>&1 && ok=1
report munged "$pid" "$ok"

pid=$(pid_of mariadbd /run/mysqld/mysqld.pid); [[ -n $pid ]] || pid=$(pid_of mysqld /nonexistent)
ok=0; mysqladmin --connect-timeout=3 ping >/dev/null 2>&1 && ok=1
report mariadb "$pid" "$ok"

pid=$(pid_of slurmdbd /run/slurmdbd.pid)
ok=0; clusters=$(sacctmgr -n -P list cluster format=cluster 2>/dev/null) && ok=1
report slurmdbd "$pid" "$ok" "${clusters:+(clusters: ${clusters//$'\n'/,})}"

pid=$(pid_of slurmctld /run/slurmctld.pid)
ok=0; [[ $(scontrol ping 2>/dev/null) == *"is UP"* ]] && ok=1
report slurmctld "$pid" "$ok"

pid=$(pid_of slurmd /run/slurmd.pid)
node=$(slurmd -C 2>/dev/null | head -n 1 | sed -n 's/^NodeName=\([^ ]*\).*/\1/p')
state=$(sinfo -h -N -n "$node" -o '%t' 2>/dev/null | head -n 1)
ok=0; [[ $state =~ ^(idle|mix|alloc|comp)$ ]] && ok=1
report slurmd "$pid" "$ok" "(node ${node:-?}: ${state:-unknown})"

echo
sinfo 2>&1 || ALL_UP=0
((ALL_UP)) && exit 0 || exit 1
