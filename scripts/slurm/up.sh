#!/usr/bin/env bash
# Install (if missing) and start a real single-node Slurm cluster on this machine,
# for evallaunch's launcher tests.  Debian 12, run as root, no systemd needed.
#
#   bash scripts/slurm/up.sh        # idempotent; a second call on a running cluster is fast
#
# Brings up, in order: munged, MariaDB (mysqld_safe), slurmdbd, slurmctld, slurmd,
# then waits until the node is usable and sacct answers.  Cluster "evallaunch",
# partition "debug" (default), one node with 2 fake GPUs (gres/gpu, /dev/null).
# Config files are regenerated on every call; a changed file restarts only the
# daemons that read it.  Stop with scripts/slurm/down.sh, inspect with status.sh.
#
# Environment knobs (optional):
#   SLURM_UP_TIMEOUT   seconds to wait for each daemon (default 90)
set -euo pipefail

CLUSTER=evallaunch
PARTITION=debug
NGPUS=2
ETC=/etc/slurm
STATE_DIR=/var/lib/slurm/slurmctld
SPOOL_DIR=/var/lib/slurm/slurmd
LOG_DIR=/var/log/slurm
DB_NAME=slurm_acct_db
DB_USER=slurm
MYSQL_CNF=/etc/mysql/mariadb.conf.d/90-evallaunch-slurm.cnf
MYSQL_LOG=/var/log/mysql/error.log
MUNGE_LOG=/var/log/munge/munged.log
INSTALL_LOG=/var/log/evallaunch-slurm-install.log
LOCK_FILE=/run/lock/evallaunch-slurm.lock
TIMEOUT=${SLURM_UP_TIMEOUT:-90}
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)

T0=${EPOCHREALTIME/./}
elapsed() { local now=${EPOCHREALTIME/./}; printf '%d.%d' $(((now - T0) / 1000000)) $(((now - T0) / 100000 % 10)); }
log() { printf '[slurm-up %6ss] %s\n' "$(elapsed)" "$*"; }
die() { # message [logfile]
    printf '[slurm-up %6ss] ERROR: %s\n' "$(elapsed)" "$1" >&2
    if [[ -n ${2:-} && -f $2 ]]; then
        printf -- '---- last 30 lines of %s ----\n' "$2" >&2
        tail -n 30 "$2" >&2
        printf -- '---- end of %s ----\n' "$2" >&2
    fi
    exit 1
}

[[ $(id -u) == 0 ]] || die "must run as root"

# One up.sh at a time (parallel test workers may all call it).  Daemons are started
# with fd 9 closed so that they do not inherit the lock.
mkdir -p "${LOCK_FILE%/*}"
exec 9>"$LOCK_FILE"
flock -w 600 9 || die "could not take $LOCK_FILE within 600 s"

# ---------------------------------------------------------------- helpers
# is_running PID: process exists and is not a zombie (PID 1 on these machines reaps
# exited daemons only every ~2 s, so /proc/PID lingers after a daemon exits)
is_running() {
    local st
    read -r st 2>/dev/null <"/proc/$1/stat" || return 1
    st=${st##*) }
    [[ ${st:0:1} != Z ]]
}

# alive_pid NAME PIDFILE: print the pid of the running daemon NAME (pid file first,
# then an exact process-name match), return 1 if none is running.
alive_pid() {
    local name=$1 pidfile=$2 pid comm
    if [[ -r $pidfile ]] && read -r pid 2>/dev/null <"$pidfile" && [[ $pid =~ ^[0-9]+$ ]] \
        && read -r comm 2>/dev/null <"/proc/$pid/comm" && [[ $comm == "$name" ]] && is_running "$pid"; then
        echo "$pid"; return 0
    fi
    for pid in $(pgrep -x "$name"); do
        is_running "$pid" && { echo "$pid"; return 0; }
    done
    return 1
}

# stop_daemon NAME PIDFILE: TERM, wait up to 15 s, then KILL.
stop_daemon() {
    local name=$1 pidfile=$2 pid i
    pid=$(alive_pid "$name" "$pidfile") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        is_running "$pid" || { rm -f "$pidfile"; return 0; }
        sleep 0.1
    done
    log "$name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
    rm -f "$pidfile"
}

# wait_until DESC LOGFILE PROCNAME PIDFILE CMD...: poll CMD until it succeeds; fail early
# (with the log tail) if the daemon process disappears, or after $TIMEOUT seconds.
wait_until() {
    local desc=$1 logfile=$2 name=$3 pidfile=$4; shift 4
    local deadline=$((${EPOCHREALTIME%.*} + TIMEOUT)) grace=0
    while ! "$@" >/dev/null 2>&1; do
        if [[ -n $name ]] && ! alive_pid "$name" "$pidfile" >/dev/null; then
            # daemons fork while starting: allow a short grace period before giving up
            ((grace++ < 20)) || die "$name exited while waiting for: $desc" "$logfile"
        fi
        ((${EPOCHREALTIME%.*} < deadline)) || die "timed out after ${TIMEOUT}s waiting for: $desc" "$logfile"
        sleep 0.1
    done
}

# install_file PATH MODE CONTENT: write PATH only if CONTENT differs; return 0 if written.
install_file() {
    local path=$1 mode=$2 content=$3
    if [[ -f $path ]] && [[ $(<"$path") == "$content" ]] \
        && [[ $(stat -c %a "$path") == "$mode" ]]; then
        return 1
    fi
    mkdir -p "${path%/*}"
    printf '%s\n' "$content" >"$path.tmp.$$"
    chmod "$mode" "$path.tmp.$$"
    mv -f "$path.tmp.$$" "$path"
    return 0
}

# ---------------------------------------------------------------- 1. packages
packages_present() {
    local b
    for b in /usr/sbin/munged /usr/bin/munge /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/slurmdbd \
        /usr/bin/sbatch /usr/bin/sacct /usr/bin/sacctmgr /usr/bin/mysqld_safe /usr/bin/mysql; do
        [[ -x $b ]] || return 1
    done
}

apt_install() {
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${PACKAGES[@]}" >>"$INSTALL_LOG" 2>&1
}

install_packages() {
    export DEBIAN_FRONTEND=noninteractive
    : >"$INSTALL_LOG"
    # Keep the package scripts from trying to start services (no init system here);
    # this script starts every daemon itself.
    local own_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    local ok=0 policy candidates
    # (no `cmd | grep -q` under pipefail: grep exiting early makes the pipeline fail)
    policy=$(apt-cache policy "${PACKAGES[@]}" 2>/dev/null) || true
    candidates=$(grep -c 'Candidate: [0-9]' <<<"$policy") || true
    if ((candidates < ${#PACKAGES[@]})); then
        log "apt: package lists lack some of ${PACKAGES[*]}; running apt-get update"
        apt-get update -q >>"$INSTALL_LOG" 2>&1 || log "apt-get update reported errors (continuing)"
    fi
    log "apt: installing ${PACKAGES[*]} (log: $INSTALL_LOG)"
    if apt_install; then
        ok=1
    else
        # Typically stale package lists (404 on a superseded version): refresh and retry.
        log "apt: install failed; running apt-get update and retrying"
        apt-get update -q >>"$INSTALL_LOG" 2>&1 || log "apt-get update reported errors (continuing)"
        apt_install && ok=1
    fi
    if ((own_policy)); then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
    ((ok)) || die "apt-get install failed" "$INSTALL_LOG"
    packages_present || die "packages installed but some binaries are missing" "$INSTALL_LOG"
    log "apt: installed $(dpkg-query -W -f='slurm ${Version}' slurmctld), $(dpkg-query -W -f='munge ${Version}' munge), $(dpkg-query -W -f='mariadb ${Version}' mariadb-server)"
}

if packages_present; then
    :
else
    install_packages
fi

# ---------------------------------------------------------------- 2. configuration
mkdir -p "$ETC" "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR"

# srun and slurmd look the node's name up: make sure it resolves (minimal containers).
if ! getent hosts "$(hostname)" >/dev/null 2>&1; then
    log "config: host name $(hostname) does not resolve; adding it to /etc/hosts"
    printf '127.0.0.1 %s\n' "$(hostname)" >>/etc/hosts || die "could not add $(hostname) to /etc/hosts"
fi

# Node hardware as slurmd sees it (first line of `slurmd -C`), e.g.
# NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=23994
HW=$(slurmd -C 2>/dev/null | head -n 1) || true
[[ $HW == NodeName=* && $HW == *RealMemory=* ]] || die "unexpected output from 'slurmd -C': $HW"
NODE=${HW%% *}; NODE=${NODE#NodeName=}
CPUS=$(grep -o 'CPUs=[0-9]*' <<<"$HW"); CPUS=${CPUS#CPUs=}
MEM_HW=$(grep -o 'RealMemory=[0-9]*' <<<"$HW"); MEM_HW=${MEM_HW#RealMemory=}
# Configure a little less memory than detected (5 %, at least 256 MB, at most 2 GB, rounded
# down to 64 MB) so that small fluctuations never make the node "Low RealMemory"/invalid.
MARGIN=$((MEM_HW / 20)); ((MARGIN < 256)) && MARGIN=256; ((MARGIN > 2048)) && MARGIN=2048
MEM=$(((MEM_HW - MARGIN) / 64 * 64))
((MEM >= 512)) || die "too little memory for a Slurm node: slurmd -C says RealMemory=$MEM_HW MB"
# Default memory per allocated CPU when a job gives no --mem: 1 GB, or an even share.
DEF_MEM_PER_CPU=$((MEM / CPUS)); ((DEF_MEM_PER_CPU > 1024)) && DEF_MEM_PER_CPU=1024
NODE_LINE="${HW/RealMemory=$MEM_HW/RealMemory=$MEM} Gres=gpu:$NGPUS NodeAddr=127.0.0.1 State=UNKNOWN"

SLURM_CONF="# Generated by scripts/slurm/up.sh (evallaunch); rewritten on every run.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEF_MEM_PER_CPU
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=1,bf_interval=1
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none
MaxArraySize=10001
MaxJobCount=30000
ReturnToService=2
MailProg=/bin/true
KillWait=5
MinJobAge=10
JobRequeue=1
InactiveLimit=0
$NODE_LINE
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP"

GRES_CONF="# Generated by scripts/slurm/up.sh (evallaunch): $NGPUS fake GPUs (symlinks to /dev/null).
AutoDetect=off"
for ((i = 0; i < NGPUS; i++)); do
    GRES_CONF+="
Name=gpu File=$SPOOL_DIR/gpu$i"
    [[ -L $SPOOL_DIR/gpu$i && $(readlink "$SPOOL_DIR/gpu$i") == /dev/null ]] \
        || ln -sfn /dev/null "$SPOOL_DIR/gpu$i"
done

# Keep the accounting DB password stable across runs.
DB_PASS=$(sed -n 's/^StoragePass=//p' "$ETC/slurmdbd.conf" 2>/dev/null | head -n 1) || true
[[ -n $DB_PASS ]] || DB_PASS=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 20) || true
SLURMDBD_CONF="# Generated by scripts/slurm/up.sh (evallaunch); rewritten on every run.
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
DebugLevel=info
LogFile=$LOG_DIR/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StoragePort=3306
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME"

MYSQL_CONF="# Generated by scripts/slurm/up.sh (evallaunch): settings slurmdbd asks for.
[mysqld]
innodb_buffer_pool_size=512M
innodb_lock_wait_timeout=900
log_error=$MYSQL_LOG
[mysqld_safe]
skip_syslog
log_error=$MYSQL_LOG"

CHANGED_SLURM=0 CHANGED_DBD=0 WROTE=()
install_file "$ETC/slurm.conf" 644 "$SLURM_CONF" && { CHANGED_SLURM=1; WROTE+=(slurm.conf); }
install_file "$ETC/gres.conf" 644 "$GRES_CONF" && { CHANGED_SLURM=1; WROTE+=(gres.conf); }
install_file "$ETC/slurmdbd.conf" 600 "$SLURMDBD_CONF" && { CHANGED_DBD=1; WROTE+=(slurmdbd.conf); }
install_file "$MYSQL_CNF" 644 "$MYSQL_CONF" && WROTE+=("$MYSQL_CNF")
[[ $(stat -c %U "$ETC/slurmdbd.conf") == root ]] || chown root:root "$ETC/slurmdbd.conf"
((${#WROTE[@]} == 0)) || log "config: wrote ${WROTE[*]} (node $NODE: $CPUS CPUs, ${MEM} MB, gpu:$NGPUS)"

# ---------------------------------------------------------------- 3. munged
munge_ok() { munge -n -t 10 2>/dev/null | unmunge >/dev/null 2>&1; }
if alive_pid munged /run/munge/munged.pid >/dev/null && munge_ok; then
    MUNGE_STATE=running
else
    stop_daemon munged /run/munge/munged.pid
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "munge: creating /etc/munge/munge.key"
        mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    touch "$MUNGE_LOG"
    chown munge:munge /run/munge /var/log/munge /var/lib/munge "$MUNGE_LOG"
    chmod 755 /run/munge
    # munged writes its own log (which must belong to munge); keep its startup stderr apart
    if ! runuser -u munge -- /usr/sbin/munged --force </dev/null >/run/munge/munged.start.log 2>&1 9>&-; then
        cat /run/munge/munged.start.log >&2
        die "munged failed to start" "$MUNGE_LOG"
    fi
    wait_until "munge credential round trip" "$MUNGE_LOG" munged /run/munge/munged.pid munge_ok
    MUNGE_STATE=started
fi
log "munged: $MUNGE_STATE"

# ---------------------------------------------------------------- 4. MariaDB
# Prints 1 when the server answers with the settings slurmdbd wants, 0 when it answers
# with lower ones; fails when it does not answer.
mysql_settings() {
    mysql --connect-timeout=3 -N -B -e \
        'SELECT @@innodb_buffer_pool_size >= 536870912 AND @@innodb_lock_wait_timeout >= 450' 2>/dev/null
}
mysql_up() { mysqladmin --connect-timeout=3 ping >/dev/null 2>&1; }
mysqld_name() { # the server's process name: mariadbd (10.5+) or mysqld
    if pgrep -x mariadbd >/dev/null; then echo mariadbd; elif pgrep -x mysqld >/dev/null; then echo mysqld; else echo mariadbd; fi
}
stop_mysql() {
    mysqladmin --connect-timeout=3 shutdown >/dev/null 2>&1 || true
    stop_daemon mysqld_safe /nonexistent
    stop_daemon "$(mysqld_name)" /run/mysqld/mysqld.pid
}

MYSQL_STARTED=0
settings=$(mysql_settings) || settings=
if [[ $settings == 1 ]]; then
    MYSQL_STATE=running
else
    if [[ $settings == 0 ]]; then
        log "mariadb: running without innodb settings from $MYSQL_CNF; restarting it"
        stop_mysql
    elif alive_pid mysqld_safe /nonexistent >/dev/null || alive_pid "$(mysqld_name)" /run/mysqld/mysqld.pid >/dev/null; then
        log "mariadb: process present but not answering; restarting it"
        stop_mysql
    fi
    mkdir -p /run/mysqld /var/log/mysql
    chown mysql:mysql /run/mysqld /var/log/mysql
    if [[ ! -d /var/lib/mysql/mysql ]]; then
        log "mariadb: initialising /var/lib/mysql"
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >>"$MYSQL_LOG" 2>&1 \
            || die "mariadb-install-db failed" "$MYSQL_LOG"
    fi
    setsid -f mysqld_safe </dev/null >/dev/null 2>&1 9>&-
    wait_until "MariaDB to answer" "$MYSQL_LOG" mysqld_safe /nonexistent mysql_up
    [[ $(mysql_settings) == 1 ]] || die "MariaDB runs without innodb_buffer_pool_size>=512M / innodb_lock_wait_timeout>=450 (see $MYSQL_CNF)" "$MYSQL_LOG"
    MYSQL_STARTED=1
    MYSQL_STATE=started
fi
log "mariadb: $MYSQL_STATE"

# ---------------------------------------------------------------- 5. slurmdbd
setup_db() {
    mysql --connect-timeout=5 -B <<SQL >/dev/null 2>>"$MYSQL_LOG" || die "could not create the accounting database/user" "$MYSQL_LOG"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
}
dbd_clusters() { sacctmgr -n -P list cluster format=cluster 2>/dev/null; }

DBD_LOG=$LOG_DIR/slurmdbd.log
if ((CHANGED_DBD || MYSQL_STARTED)) && alive_pid slurmdbd /run/slurmdbd.pid >/dev/null; then
    stop_daemon slurmdbd /run/slurmdbd.pid
    DBD_STATE=restarted
fi
if alive_pid slurmdbd /run/slurmdbd.pid >/dev/null && clusters=$(dbd_clusters); then
    DBD_STATE=running
else
    stop_daemon slurmdbd /run/slurmdbd.pid
    setup_db
    slurmdbd </dev/null >>"$DBD_LOG" 2>&1 9>&- || die "slurmdbd failed to start" "$DBD_LOG"
    wait_until "slurmdbd to answer sacctmgr" "$DBD_LOG" slurmdbd /run/slurmdbd.pid dbd_clusters
    clusters=$(dbd_clusters) || die "slurmdbd stopped answering sacctmgr" "$DBD_LOG"
    DBD_STATE=${DBD_STATE:-started}
fi
log "slurmdbd: $DBD_STATE"

# Register the cluster once (slurmctld needs it in the accounting database).
if ! grep -qx "$CLUSTER" <<<"$clusters"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>>"$DBD_LOG" || die "sacctmgr add cluster $CLUSTER failed" "$DBD_LOG"
    log "sacctmgr: registered cluster $CLUSTER"
fi

# ---------------------------------------------------------------- 6. slurmctld
CTLD_LOG=$LOG_DIR/slurmctld.log
ctld_ok() { [[ $(scontrol ping 2>/dev/null) == *"is UP"* ]]; }
if ((CHANGED_SLURM)) && alive_pid slurmctld /run/slurmctld.pid >/dev/null; then
    stop_daemon slurmctld /run/slurmctld.pid
    CTLD_STATE=restarted
fi
if alive_pid slurmctld /run/slurmctld.pid >/dev/null && ctld_ok; then
    CTLD_STATE=running
else
    stop_daemon slurmctld /run/slurmctld.pid
    slurmctld </dev/null >>"$CTLD_LOG" 2>&1 9>&- || die "slurmctld failed to start" "$CTLD_LOG"
    wait_until "slurmctld to answer 'scontrol ping'" "$CTLD_LOG" slurmctld /run/slurmctld.pid ctld_ok
    CTLD_STATE=${CTLD_STATE:-started}
fi
log "slurmctld: $CTLD_STATE"
# down.sh sets the partition DOWN while it cancels running jobs; make sure it schedules.
part_state=$(sinfo -h -p "$PARTITION" -o %a 2>/dev/null | head -n 1) || true
if [[ $part_state != up ]]; then
    log "slurmctld: partition $PARTITION is '${part_state:-missing}'; setting it UP"
    scontrol update partitionname="$PARTITION" state=up || die "could not set partition $PARTITION UP" "$CTLD_LOG"
fi

# ---------------------------------------------------------------- 7. slurmd
SLURMD_LOG=$LOG_DIR/slurmd.log
node_state() { sinfo -h -N -n "$NODE" -o '%t' 2>/dev/null | head -n 1; }
node_ready() { [[ $(node_state) =~ ^(idle|mix|alloc|comp)$ ]]; }
if ((CHANGED_SLURM)) && alive_pid slurmd /run/slurmd.pid >/dev/null; then
    stop_daemon slurmd /run/slurmd.pid
    SLURMD_STATE=restarted
fi
if pid=$(alive_pid slurmd /run/slurmd.pid); then
    SLURMD_STATE=running
    # A freshly started slurmctld marks the node usable only after its first ping (~4 s);
    # SIGHUP makes slurmd re-read its config and register right away.
    if [[ $CTLD_STATE != running ]] && ! node_ready; then kill -HUP "$pid" 2>/dev/null || true; fi
else
    printf -v SLURMD_LAUNCH '%(%Y-%m-%dT%H:%M:%S)T' -1
    slurmd </dev/null >>"$SLURMD_LOG" 2>&1 9>&- || die "slurmd failed to start" "$SLURMD_LOG"
    SLURMD_STATE=${SLURMD_STATE:-started}
fi
if ! node_ready; then
    # Give a fresh registration a moment; then resume a drained/down node once.
    for ((i = 0; i < 30; i++)); do node_ready && break; sleep 0.1; done
    if ! node_ready; then
        state=$(node_state)
        if [[ $state =~ ^(drain|drng|down|fail|failg)$ ]]; then
            reason=$(scontrol show node "$NODE" 2>/dev/null | sed -n 's/^ *Reason=//p')
            log "slurmd: node $NODE is $state (${reason:-no reason}); resuming it"
            scontrol update nodename="$NODE" state=resume 2>/dev/null \
                || scontrol update nodename="$NODE" state=idle 2>/dev/null || true
        fi
    fi
    wait_until "node $NODE to become idle (sinfo)" "$SLURMD_LOG" slurmd /run/slurmd.pid node_ready
fi
log "slurmd: $SLURMD_STATE (node $NODE $(node_state))"

# Jobs that slurmctld still lists as running on the node although their processes are
# gone (the cluster was stopped while slurmctld could not cancel them): cancel them
# now instead of letting them hold resources until Slurm's own periodic check.
if [[ $SLURMD_STATE != running ]]; then
    steps=$(ps -C slurmstepd -o args= 2>/dev/null | sed -n 's/^slurmstepd: \[\([0-9]*\)\..*/\1/p' | tr '\n' ' ') || true
    steps=" $steps "
    ghosts=()
    # %A: unique job id (what slurmstepd shows); %i: 12_3 form, which scancel needs for array tasks
    while read -r rawid jobid start; do
        if [[ -n $rawid && $steps != *" $rawid "* && $start < "$SLURMD_LAUNCH" ]]; then ghosts+=("$jobid"); fi
    done < <(squeue -h -t RUNNING,COMPLETING -w "$NODE" -o '%A %i %S' 2>/dev/null)
    if ((${#ghosts[@]})); then
        log "slurmd: cancelling job(s) ${ghosts[*]}: listed as running but their processes are gone"
        scancel "${ghosts[@]}" 2>/dev/null || true
    fi
fi

# ---------------------------------------------------------------- 8. accounting answers
wait_until "sacct to answer" "$DBD_LOG" slurmdbd /run/slurmdbd.pid sacct -n -X -S now -o JobID
log "cluster $CLUSTER ready: partition $PARTITION, node $NODE ($CPUS CPUs, ${MEM} MB, gpu:$NGPUS)"
