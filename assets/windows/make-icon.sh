#!/usr/bin/env bash
#
# assets/windows/make-icon.sh: writes assets/windows/knock.ico (the icon of
# knock.exe, knock-gui.exe, the installer and the Start-menu shortcut) from
# assets/knock.png, at the sizes Explorer and the taskbar ask for.
# Run it again after changing the PNG, and commit the result.
#
# Needs ImageMagick (Debian: imagemagick).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

im=
for c in magick convert-im6.q16 convert; do
    if command -v "$c" >/dev/null 2>&1; then
        im=$c
        break
    fi
done
[[ -n "$im" ]] || {
    echo "make-icon.sh: ImageMagick not found (apt-get install imagemagick)" >&2
    exit 1
}

# 256 is stored as PNG (Vista and later), the rest as bitmaps.
"$im" ../knock.png -define icon:auto-resize=256,64,48,32,24,16 knock.ico
echo "wrote assets/windows/knock.ico"
