#!/bin/bash
# End-to-end: the Slurm job scripts of docs/distributed.md
# (examples/slurm/*.sbatch), submitted with sbatch to a Slurm of this test's
# own: a controller and a node daemon on this machine (slurm-wlm from
# Debian; scripts/deps.sh installs it), in a temporary directory with its
# own ports, started here and stopped at the end.
#
#   - train.sbatch: srun starts 2 ranks of a trainer, which train together:
#     the parameters are those of `mpirun -np 2`, bit for bit
#   - sweep-array.sbatch: a job array of 8 tasks, each a run of its own
#     (learning rate and seed from the task's number), compared by nnc compare
#   - sweep-mpi.sbatch: nnc sweep under srun over 2 ranks writes the table
#     of the one-process sweep
#
# The daemons run jobs as the user that submits them and must start as
# root (slurmd); elsewhere the tests skip, saying so.  Under CI=true a
# missing slurm-wlm is a failure.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/slurm"
rm -rf "$D"
mkdir -p "$D"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

t_begin "slurm/available"
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v sbatch >/dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then t_fail "slurm-wlm is not installed (scripts/deps.sh installs it)"
    else t_skip "slurm-wlm is not installed (scripts/deps.sh installs it)"; fi
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    t_skip "slurmd must start as root to run jobs"
    exit 0
fi
if ! command -v mpirun >/dev/null 2>&1 || [ ! -f "$(dirname "$NNC")/runtime/nnrt-mpi.so" ]; then
    t_fail "mpirun or runtime/nnrt-mpi.so is missing (scripts/deps.sh, then make)"
    exit 0
fi

# A cluster of one node: no munge (auth/none), no cgroups, ports of its own
# (several test runs may share the machine), jobs sharing its 2 CPUs.
S="$D/cluster"
mkdir -p "$S/state" "$S/spool"
port=$((20000 + ($$ % 5000) * 2))
host=$(hostname -s)
cat >"$S/slurm.conf" <<EOF
ClusterName=nnctest
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/none
CredType=cred/none
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ReturnToService=2
JobCompType=jobcomp/none
NodeName=$host CPUs=2 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
EOF
export SLURM_CONF="$S/slurm.conf"
stop_cluster() {
    local f
    for f in "$S/slurmd.pid" "$S/slurmctld.pid"; do
        [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
}
trap stop_cluster EXIT

t_begin "slurm/cluster-starts"
up=0
if t_run slurmctld -i && t_run slurmd; then
    for i in $(seq 100); do   # until the node is idle (at most 20 s)
        sinfo -h -o %t 2>/dev/null | grep -q idle && { up=1; break; }
        sleep 0.2
    done
fi
if [ $up = 1 ]; then t_pass
else t_fail "no idle node: $(sinfo 2>&1; tail -n 5 "$S"/*.log)"; exit 0; fi

# the scripts run in a directory holding ./model, model.nn and nnc on PATH
W="$D/work"
mkdir -p "$W/bin"
cp examples/slurm/*.sbatch "$W/"
cp examples/sweep.nn "$W/model.nn"
ln -s "$NNC" "$W/bin/nnc"
t_build "$W/model.nn" "$W/model"
export PATH="$W/bin:$PATH"
# sbatch --wait: returns when the job (every task of an array) has ended,
# with its exit status; the command line's options replace the script's
# #SBATCH lines that ask for more than this machine has
submit() { (cd "$W" && timeout 300 sbatch --wait --quiet "$@"); }

t_begin "slurm/train-job-is-data-parallel"   # 2 ranks by srun = mpirun -np 2, bit for bit
if t_run submit --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 train.sbatch --epochs 3 --quiet &&
        (cd "$D" && t_run timeout 120 mpirun --oversubscribe -np 2 "$W/model" train --epochs 3 \
            --quiet --log "$D/mpirun"); then
    if cmp -s "$W/runs/big/params.npz" "$D/mpirun/params.npz" &&
            [ "$(grep -c . "$W/runs/big/metrics.csv")" = 5 ]; then
        t_pass
    else
        t_fail "runs/big differs from mpirun -np 2's run: $(cat "$W"/train-*.out)"
    fi
else
    t_fail "the job failed: $(cat "$W"/train-*.out 2>/dev/null)"
fi

t_begin "slurm/job-array-sweep"   # 8 tasks, 8 runs, compared
if t_run submit --cpus-per-task=1 sweep-array.sbatch --epochs 2; then
    n=$(ls "$W"/runs/lr*/seed*/summary.json 2>/dev/null | wc -l)
    if [ "$n" = 8 ] && t_run "$NNC" compare "$W"/runs/lr*/seed1 -o "$W/runs/compare" &&
            [ -s "$W/runs/compare/compare.txt" ]; then
        t_pass
    else
        t_fail "expected 8 runs compared, found $n: $(cat "$W"/array-*.out 2>/dev/null | head)"
    fi
else
    t_fail "the job array failed: $(cat "$W"/array-*.out 2>/dev/null | head)"
fi

t_begin "slurm/mpi-sweep-job"   # nnc sweep over 2 ranks by srun: the one-process table
A=(-D depth=0..1 --set lr=0.03,0.003 --set epochs=2 --repeat 2)
if t_run submit --ntasks=2 sweep-mpi.sbatch "${A[@]}" &&
        (cd "$W" && t_run "$NNC" sweep model.nn "${A[@]}" --out one); then
    if cmp -s "$W/sweep/results.txt" "$W/one/results.txt"; then t_pass
    else t_fail "the tables differ: $(diff "$W/sweep/results.txt" "$W/one/results.txt")"; fi
else
    t_fail "the sweep job failed: $(cat "$W"/sweep-*.out 2>/dev/null | tail)"
fi
