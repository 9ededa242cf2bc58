#!/usr/bin/env bash
# Download the course's real data sets into this folder (verified, resumable).
# A thin wrapper around the package's command line; see README.md here.
#
#   ./get_datasets.sh            # everything: CIFAR-10 and COCO captioning
#   ./get_datasets.sh cifar10    # one data set (cifar10 or coco)
#
# Extra options are passed on, e.g. --force, --mirror URL, --keep-archive.
set -euo pipefail
cd "$(dirname "$0")"
if command -v cs231n >/dev/null 2>&1; then
    cs231n_cmd=(cs231n)
else
    cs231n_cmd=(python -m cs231n)
fi
dataset="${1:-all}"
[ $# -gt 0 ] && shift
exec "${cs231n_cmd[@]}" data download "$dataset" --root "$PWD" "$@"
