#!/bin/sh
# A Slurm job array: task K of N runs shard K of N. Submit with: sbatch slurm-migrate.sh
#SBATCH --job-name=mboxtool-migrate
#SBATCH --array=1-8
#SBATCH --cpus-per-task=2
#SBATCH --output=/srv/migration/logs/%A_%a.jsonl
# Exit 75 (only busy locks) is a success for the array: rerun it later for those mailboxes.
/opt/mboxtool/bin/mboxtool migrate --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" \
    --jobs "$SLURM_CPUS_PER_TASK" --json --move --missing-ok \
    --log-file "/srv/migration/logs/shard-$SLURM_ARRAY_TASK_ID.log" /srv/migration/manifest.csv
status=$?
[ "$status" -eq 75 ] && exit 0
exit "$status"
