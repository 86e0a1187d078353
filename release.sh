#!/usr/bin/env bash
#
# release.sh: builds the release artifacts into dist/ and writes
# dist/SHA256SUMS over every artifact there.
#
#   ./release.sh              every section (dist/ emptied first)
#   ./release.sh windows      only these sections (others' artifacts stay)
#
# Sections (one function each, release_SECTION; add a new one to SECTIONS):
#   windows   knock-VERSION-x86_64-pc-windows-gnu.zip  knock.exe, knock-gui.exe,
#                                                      README.md, profiles.example.toml
#             knock-VERSION-windows-setup.exe          NSIS installer (assets/windows/installer.nsi)
#             cross-built on Linux with mingw-w64; both exes carry the icon,
#             version information and manifest (knock-cli/build.rs, knock-gui/build.rs)
#
# Idempotent: run it again and it rebuilds what changed and rewrites dist/.
# As root on Debian it installs what it is missing (apt-get update first:
# gcc-mingw-w64-x86-64, nsis, zip) and the Rust target (rustup target add).
# Each step prints the time it took.
#
# Environment:
#   KNOCK_DIST=DIR     write the artifacts there instead of dist/
#   KNOCK_SKIP_APT=1   never run apt-get (a missing tool is an error)
#   SOURCE_DATE_EPOCH  time stamp of the files in the zip (default: the last commit)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
REPO=$(pwd)
DIST=${KNOCK_DIST:-$REPO/dist}
SECTIONS=(windows)

VERSION=$(awk '/^\[workspace\.package\]/ { p = 1; next } /^\[/ { p = 0 }
    p && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' Cargo.toml)
[[ -n "$VERSION" ]] || {
    echo "release.sh: no version in [workspace.package] of Cargo.toml" >&2
    exit 1
}
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

# ---------------------------------------------------------------- helpers

START=$SECONDS
heading() { printf '\n==> %s\n' "$*"; }
die() {
    echo "release.sh: $*" >&2
    exit 1
}

# step NAME CMD...: run one step and print how long it took.
step() {
    local name=$1
    shift
    heading "$name"
    local t0=$EPOCHREALTIME
    "$@"
    printf '    %s: %s s\n' "$name" "$(elapsed "$t0")"
}
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

APT_UPDATED=0
# need_tools "CMD:PACKAGE"...: install (as root, with apt-get) the package of
# every command that is missing; fail with the list otherwise.
need_tools() {
    local pair cmd pkg missing=() pkgs=()
    for pair in "$@"; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || {
            missing+=("$cmd")
            pkgs+=("$pkg")
        }
    done
    ((${#missing[@]})) || return 0
    if [[ "$(id -u)" -ne 0 || "${KNOCK_SKIP_APT:-}" == 1 ]] || ! command -v apt-get >/dev/null; then
        die "missing ${missing[*]} (Debian: apt-get install ${pkgs[*]})"
    fi
    if ((!APT_UPDATED)); then
        DEBIAN_FRONTEND=noninteractive apt-get update
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"
}

# need_rust_target TRIPLE: the standard library for TRIPLE (rustup target add).
need_rust_target() {
    local triple=$1
    [[ -d "$(rustc --print sysroot)/lib/rustlib/$triple/lib" ]] && return 0
    command -v rustup >/dev/null 2>&1 ||
        die "no Rust standard library for $triple, and no rustup to add it"
    rustup target add "$triple"
}

# artifact FILE: announce one finished artifact of dist/.
artifact() {
    printf '    %s (%s bytes)\n' "${1#"$REPO"/}" "$(stat -c %s "$1")"
}

# ---------------------------------------------------------------- windows

WIN_TRIPLE=x86_64-pc-windows-gnu
WIN_EXES=(knock.exe knock-gui.exe)

windows_tools() {
    need_tools zip:zip makensis:nsis x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64 \
        x86_64-w64-mingw32-windres:binutils-mingw-w64-x86-64
    need_rust_target "$WIN_TRIPLE"
}

windows_build() {
    cargo build --release --locked --target "$WIN_TRIPLE" -p knock-cli -p knock-gui
}

# Each exe has an icon (resource type 14, group icon), version information
# (16) and a manifest (24), and imports only DLLs that Windows itself has
# (no mingw runtime DLLs to ship beside it).
windows_verify() {
    local exe dump types dlls
    for exe in "${WIN_EXES[@]}"; do
        dump=$(x86_64-w64-mingw32-objdump -p "target/$WIN_TRIPLE/release/$exe")
        # The type level of the resource directory: "010   Entry: ID: 0x00000e, ..."
        types=$(awk '/Resource Directory/ { r = 1 } r && /^[0-9a-f]+   Entry: ID: / { print $4 }' <<<"$dump" | tr -d , | tr '\n' ' ')
        for want in 0x00000e 0x000010 0x000018; do
            [[ " $types " == *" $want "* ]] ||
                die "$exe: no resource of type $want (have: ${types:-none})"
        done
        dlls=$(awk '/DLL Name:/ { print tolower($3) }' <<<"$dump" | sort -u)
        if grep -vxE '(kernel32|user32|gdi32|advapi32|shell32|ole32|oleaut32|combase|opengl32|ws2_32|ntdll|bcryptprimitives|bcrypt|userenv|imm32|comctl32|uxtheme|dwmapi|shlwapi|uiautomationcore|crypt32|secur32|msvcrt|api-ms-win-[a-z0-9-]+)\.dll' <<<"$dlls"; then
            die "$exe imports a DLL that Windows does not have (above)"
        fi
        printf '    %s: icon, version, manifest; imports %s\n' "$exe" "$(tr '\n' ' ' <<<"$dlls")"
    done
}

# The files both the zip and the installer carry, in one folder.
windows_stage() {
    WIN_STAGE="$REPO/target/release-stage/knock-$VERSION-$WIN_TRIPLE"
    rm -rf "$WIN_STAGE"
    mkdir -p "$WIN_STAGE"
    local exe
    for exe in "${WIN_EXES[@]}"; do
        cp "target/$WIN_TRIPLE/release/$exe" "$WIN_STAGE/"
    done
    # Windows tools (Notepad before 2018) want CRLF in text files.
    sed 's/$/\r/' README.md >"$WIN_STAGE/README.md"
    sed 's/$/\r/' assets/windows/profiles.toml >"$WIN_STAGE/profiles.example.toml"
    find "$WIN_STAGE" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
}

windows_zip() {
    local zip="$DIST/knock-$VERSION-$WIN_TRIPLE.zip"
    rm -f "$zip"
    # Sorted names and fixed time stamps: the same files give the same zip.
    (cd "$(dirname "$WIN_STAGE")" && find "$(basename "$WIN_STAGE")" | LC_ALL=C sort |
        TZ=UTC zip -q -X -@ "$zip")
    artifact "$zip"
}

windows_installer() {
    local exe="$DIST/knock-$VERSION-windows-setup.exe"
    rm -f "$exe"
    makensis -V2 -DVERSION="$VERSION" -DSTAGE="$WIN_STAGE" -DOUTFILE="$exe" \
        "$REPO/assets/windows/installer.nsi"
    artifact "$exe"
}

release_windows() {
    step "windows: tools" windows_tools
    step "windows: cargo build --release --target $WIN_TRIPLE" windows_build
    step "windows: check resources and imports" windows_verify
    step "windows: stage" windows_stage
    step "windows: zip" windows_zip
    step "windows: installer (makensis)" windows_installer
}

# ---------------------------------------------------------------- main

checksums() {
    local files=()
    mapfile -t files < <(cd "$DIST" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort)
    ((${#files[@]})) || die "no artifacts in $DIST"
    (cd "$DIST" && sha256sum -- "${files[@]}" >SHA256SUMS)
    sed 's/^/    /' "$DIST/SHA256SUMS"
}

main() {
    local sections=("$@") s
    if ((${#sections[@]} == 0)); then
        sections=("${SECTIONS[@]}")
        rm -rf "$DIST"
    fi
    for s in "${sections[@]}"; do
        [[ " ${SECTIONS[*]} " == *" $s "* ]] || die "unknown section $s (have: ${SECTIONS[*]})"
    done
    mkdir -p "$DIST"
    DIST=$(cd "$DIST" && pwd)
    heading "knock $VERSION: ${sections[*]} into ${DIST#"$REPO"/}"
    for s in "${sections[@]}"; do
        "release_$s"
    done
    step "SHA256SUMS" checksums
    printf '\nrelease.sh: done in %d s\n' "$((SECONDS - START))"
}

main "$@"
