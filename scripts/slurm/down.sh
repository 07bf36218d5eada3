#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by scripts/slurm/up.sh.
#
#   bash scripts/slurm/down.sh
#
# Order: running jobs are cancelled (pending jobs stay queued for the next up.sh),
# then slurmd (+ leftover slurmstepd), slurmctld, slurmdbd, MariaDB, munged.
# Each daemon gets SIGTERM (MariaDB: mysqladmin shutdown), then SIGKILL after 15 s.
# Idempotent: stopping a stopped cluster is a no-op.
set -uo pipefail

LOCK_FILE=/run/lock/evallaunch-slurm.lock

log() { printf '[slurm-down] %s\n' "$*"; }
[[ $(id -u) == 0 ]] || { echo "[slurm-down] ERROR: must run as root" >&2; exit 1; }

mkdir -p "${LOCK_FILE%/*}"
exec 9>"$LOCK_FILE"
flock -w 600 9 || { echo "[slurm-down] ERROR: could not take $LOCK_FILE" >&2; exit 1; }

# pids_of NAME PIDFILE: pids of the running daemon (pid file, then exact name match)
pids_of() {
    local name=$1 pidfile=$2 pid comm
    {
        if [[ -r $pidfile ]] && read -r pid <"$pidfile" 2>/dev/null && [[ $pid =~ ^[0-9]+$ ]] \
            && read -r comm <"/proc/$pid/comm" 2>/dev/null && [[ $comm == "$name" ]]; then
            echo "$pid"
        fi
        pgrep -x "$name"
    } | sort -un
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
        for pid in $pids; do [[ -d /proc/$pid ]] && alive+="$pid "; done
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

# 1. Cancel running jobs while the controller still answers, so that their
#    processes are cleaned up by Slurm and accounting records them as CANCELLED.
if command -v scontrol >/dev/null && [[ $(scontrol ping 2>/dev/null) == *"is UP"* ]]; then
    running=$(squeue -h -t RUNNING,SUSPENDED -o %i 2>/dev/null | wc -l)
    if ((running > 0)); then
        log "cancelling $running running job(s); pending jobs stay queued"
        scancel --state=RUNNING 2>/dev/null
        scancel --state=SUSPENDED 2>/dev/null
        for ((i = 0; i < 200; i++)); do # KillWait (5 s) + margin
            [[ -z $(squeue -h -t RUNNING,SUSPENDED,COMPLETING -o %i 2>/dev/null) ]] && break
            sleep 0.1
        done
    fi
fi

# 2. Slurm daemons, compute side first.
stop slurmd /run/slurmd.pid
[[ -z $(pids_of slurmstepd /nonexistent) ]] || stop slurmstepd /nonexistent "slurmstepd (leftover job steps)"
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
