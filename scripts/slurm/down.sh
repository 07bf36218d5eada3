#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by scripts/slurm/up.sh.
#
#   bash scripts/slurm/down.sh
#
# Order: scheduling stops and running jobs are cancelled (pending jobs stay queued
# for the next up.sh), then slurmd (+ leftover job steps), slurmctld, slurmdbd,
# MariaDB, munged.
# Each daemon gets SIGTERM (MariaDB: mysqladmin shutdown), then SIGKILL after 15 s.
# Idempotent: stopping a stopped cluster is a no-op.
set -uo pipefail

LOCK_FILE=/run/lock/evallaunch-slurm.lock

T0=${EPOCHREALTIME/./}
elapsed() { local now=${EPOCHREALTIME/./}; printf '%d.%d' $(((now - T0) / 1000000)) $(((now - T0) / 100000 % 10)); }
log() { printf '[slurm-down %5ss] %s\n' "$(elapsed)" "$*"; }
[[ $(id -u) == 0 ]] || { echo "[slurm-down] ERROR: must run as root" >&2; exit 1; }

mkdir -p "${LOCK_FILE%/*}"
exec 9>"$LOCK_FILE"
flock -w 600 9 || { echo "[slurm-down] ERROR: could not take $LOCK_FILE" >&2; exit 1; }

# is_running PID: process exists and is not a zombie (PID 1 on these machines reaps
# exited daemons only every ~2 s, so /proc/PID lingers after a daemon exits)
is_running() {
    local st
    read -r st 2>/dev/null <"/proc/$1/stat" || return 1
    st=${st##*) }
    [[ ${st:0:1} != Z ]]
}

# pids_of NAME PIDFILE: pids of the running daemon (pid file, then exact name match)
pids_of() {
    local name=$1 pidfile=$2 pid comm
    {
        if [[ -r $pidfile ]] && read -r pid 2>/dev/null <"$pidfile" && [[ $pid =~ ^[0-9]+$ ]] \
            && read -r comm 2>/dev/null <"/proc/$pid/comm" && [[ $comm == "$name" ]]; then
            echo "$pid"
        fi
        pgrep -x "$name"
    } | sort -un | while read -r pid; do is_running "$pid" && echo "$pid"; done
}

# stop NAME PIDFILE [LABEL]: SIGTERM, wait up to 15 s, then SIGKILL
stop() {
    local name=$1 pidfile=$2 label=${3:-$1} pids pid i alive
    pids=$(pids_of "$name" "$pidfile" | tr '\n' ' ')
    if [[ -z ${pids// /} ]]; then
        log "$label: not running"
        rm -f "$pidfile"
        return 0
    fi
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
    for ((i = 0; i < 150; i++)); do
        alive=
        for pid in $pids; do is_running "$pid" && alive+="$pid "; done
        [[ -z $alive ]] && break
        sleep 0.1
    done
    if [[ -n $alive ]]; then
        log "$label: still alive after 15 s (pid $alive); sending SIGKILL"
        for pid in $alive; do kill -KILL "$pid" 2>/dev/null; done
        sleep 0.2
    fi
    rm -f "$pidfile"
    log "$label: stopped"
}

# descendants PID: all processes below PID (children first-level first)
descendants() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            n = 1; q[1] = root
            for (i = 1; i <= n; i++)
                for (p in parent) if (parent[p] == q[i]) { q[++n] = p; print p }
        }'
}

# 1. Stop scheduling (partition DOWN: jobs still queue, none start; slurm.conf says
#    State=UP, which a restarted slurmctld uses again, and up.sh checks it), then cancel
#    running jobs so that Slurm kills their processes and accounting says CANCELLED.
#    Pending jobs stay queued for the next up.sh.
if command -v scontrol >/dev/null && [[ $(scontrol ping 2>/dev/null) == *"is UP"* ]]; then
    for part in $(sinfo -h -o %R 2>/dev/null); do
        scontrol update partitionname="$part" state=down 2>/dev/null
    done
    running=$(squeue -h -t RUNNING,SUSPENDED -o %i 2>/dev/null | tr '\n' ' ')
    if [[ -n ${running// /} ]]; then
        log "cancelling running job(s): $running(pending jobs stay queued)"
        # shellcheck disable=SC2086
        scancel $running 2>/dev/null
        for ((i = 0; i < 150; i++)); do # KillWait (5 s) + margin
            [[ -z $(squeue -h -t RUNNING,SUSPENDED,COMPLETING -o %i 2>/dev/null) ]] && break
            sleep 0.1
        done
    fi
fi

# 2. Slurm daemons, compute side first.
stop slurmd /run/slurmd.pid
# Job steps that outlived slurmd (e.g. the controller was already gone): slurmstepd
# ignores SIGTERM, so end the job processes below it first, then slurmstepd itself.
steps=$(pids_of slurmstepd /nonexistent | tr '\n' ' ')
if [[ -n ${steps// /} ]]; then
    log "killing leftover job steps (slurmstepd pid $steps)"
    procs=$(for pid in $steps; do descendants "$pid"; done | tr '\n' ' ')
    for pid in $procs; do kill -TERM "$pid" 2>/dev/null; done
    for ((i = 0; i < 30; i++)); do
        alive=; for pid in $procs; do is_running "$pid" && alive+="$pid "; done
        [[ -z $alive ]] && break
        sleep 0.1
    done
    for pid in $alive; do kill -KILL "$pid" 2>/dev/null; done
    for pid in $steps; do kill -KILL "$pid" 2>/dev/null; done
    sleep 0.2
fi
stop slurmctld /run/slurmctld.pid
stop slurmdbd /run/slurmdbd.pid

# 3. MariaDB: clean shutdown first (mysqld_safe then exits by itself).
if [[ -n $(pids_of mysqld_safe /nonexistent; pids_of mariadbd /run/mysqld/mysqld.pid; pids_of mysqld /nonexistent) ]]; then
    mysqladmin --connect-timeout=3 shutdown >/dev/null 2>&1
    for ((i = 0; i < 150; i++)); do
        [[ -z $(pids_of mysqld_safe /nonexistent; pids_of mariadbd /run/mysqld/mysqld.pid) ]] && break
        sleep 0.1
    done
    stop mysqld_safe /nonexistent >/dev/null
    stop mariadbd /run/mysqld/mysqld.pid >/dev/null
    stop mysqld /nonexistent >/dev/null
    log "mariadb: stopped"
else
    log "mariadb: not running"
fi

# 4. munged last (the others authenticate through it).
stop munged /run/munge/munged.pid
exit 0
