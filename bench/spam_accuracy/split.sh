#!/bin/bash
# Unpacks the SpamAssassin public corpus (training part of ../shared/corpora) and splits it
# deterministically: a message is in the TRAIN part when the first hex digit of the MD5 in its
# file name (NNNNN.<md5>, the corpus's own MD5 of the message) is 0-a (11 of 16 values, ~69 %),
# otherwise in the TEST part. Labels come from labels.tsv.
# Usage: split.sh CORPUS_DIR OUT_DIR   -> OUT_DIR/msgs/..., OUT_DIR/{train,test}/{spam,ham}/ symlinks
set -euo pipefail
CORPUS=$1
OUT=$2
mkdir -p "$OUT/msgs" "$OUT/train/spam" "$OUT/train/ham" "$OUT/test/spam" "$OUT/test/ham"
zstd -qdc "$CORPUS/spamassassin-train.tar.zst" | tar -x -C "$OUT/msgs"
tail -n +2 "$CORPUS/labels.tsv" | while IFS=$'\t' read -r path label subset _; do
  base=$(basename "$path")
  md5=${base#*.}
  case ${md5:0:1} in
    [0-9a]) part=train ;;
    *) part=test ;;
  esac
  ln "$OUT/msgs/$path" "$OUT/$part/$label/${subset}__$base"
done
for p in train test; do for l in spam ham; do
  echo "$p/$l: $(ls "$OUT/$p/$l" | wc -l)" >&2
done; done
