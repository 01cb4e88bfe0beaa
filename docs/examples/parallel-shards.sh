#!/bin/sh
# Run one manifest on several hosts with GNU parallel over ssh: shard K of N on each job.
# Every host must see the manifest's paths (shared storage) and have mboxtool at $MBOXTOOL.
# hosts.txt: one ssh login a line (e.g. "4/root@mail1"; ":" is this machine).
# Output: the JSON lines of every shard (--group keeps a shard's lines together). Exit: the
# number of shards that exited non-zero (GNU parallel's rule); each shard's own summary line
# says whether it was only busy (75) or failed.
set -u
MANIFEST=${MANIFEST:-/srv/migration/manifest.csv}
HOSTS=${HOSTS:-/srv/migration/hosts.txt}
MBOXTOOL=${MBOXTOOL:-/opt/mboxtool/bin/mboxtool}
SHARDS=${SHARDS:-3}
LOG=${LOG:-/var/log/mboxtool/migrate.log}
seq 1 "$SHARDS" | parallel --will-cite --sshloginfile "$HOSTS" --jobs 1 --group \
    "$MBOXTOOL" migrate --shard "{}/$SHARDS" --json --move --missing-ok --log-file "$LOG" "$MANIFEST"
