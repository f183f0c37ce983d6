#!/usr/bin/env bash
# Cuts DejaVu Sans (regular and bold) down to the characters the pictures
# use: Latin (ASCII, Latin-1, Latin Extended-A, for country and product
# names), general punctuation, arrows, a few mathematical signs and
# geometric shapes. The PNG renderer embeds the results, so PNG text looks
# the same on every machine, whatever fonts it has. Run once, when the set
# should change, on Debian with `fonts-dejavu-core` and `fonttools`:
#
#     bash assets/fonts/subset.sh
set -euo pipefail
cd "$(dirname "$0")"
SOURCE=${DEJAVU_DIR:-/usr/share/fonts/truetype/dejavu}
UNICODES="U+0020-007E,U+00A0-017F,U+2010-2027,U+2030-203A,U+2190-2193,U+2212,U+2264-2265,U+25A0-25CF"
for face in DejaVuSans DejaVuSans-Bold; do
    pyftsubset "$SOURCE/$face.ttf" --unicodes="$UNICODES" \
        --layout-features='kern' --no-hinting --name-IDs='*' --name-languages='*' \
        --output-file="$face-subset.ttf"
done
ls -l ./*-subset.ttf
