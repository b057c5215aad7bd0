#!/bin/sh
# Print the absolute path of the Python that `make` builds its virtual environment with.
#   tools/find_python.sh            search: python3.11, then 3.12, 3.13, 3.10 (MICSEG_PYTHON_ORDER)
#   tools/find_python.sh PYTHON     check the interpreter the user named (make PYTHON=...) and use it
# Each candidate is run once, so a name on the PATH that cannot start (a pyenv shim of a version that
# is not activated) or lacks venv/ensurepip (Debian without python3.X-venv) is passed over. Besides
# the PATH, Pythons installed by pyenv but not activated ($PYENV_ROOT/versions/X.Y*/bin) count.
# On failure, one line on stderr says what works and how to get it, and the exit status is 1.
SUPPORTED="3.10 3.11 3.12 3.13"
ORDER=${MICSEG_PYTHON_ORDER:-"3.11 3.12 3.13 3.10"}
HOW="install one (Debian/Ubuntu: apt install python3.12-venv; macOS: brew install python@3.13; or pyenv install 3.11) or name it: make PYTHON=/path/to/python3.X"

# probe CMD: print "X.Y EXECUTABLE" if CMD starts and can make a venv with pip; else fail.
probe() {
    "$1" -c 'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2], sys.executable)' \
        2>/dev/null
}

is_supported() {
    for v in $SUPPORTED; do
        [ "$v" = "$1" ] && return 0
    done
    return 1
}

pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}

# candidates VERSION: the names and paths to try for Python VERSION, in order.
candidates() {
    echo "python$1"
    for path in "$pyenv_root"/versions/"$1".*/bin/python"$1"; do
        [ -x "$path" ] && echo "$path"
    done
}

if [ -n "$1" ]; then
    found=$(probe "$1")
    case $1 in
        # a bare pythonX.Y that does not start may be a pyenv shim: try pyenv's own copies
        python3.[0-9]*) [ -n "$found" ] || for path in $(candidates "${1#python}"); do
                found=$(probe "$path") && break
            done ;;
    esac
    if [ -z "$found" ]; then
        if "$1" -c 'import sys' >/dev/null 2>&1; then
            echo "PYTHON=$1 cannot make a virtual environment (no venv/ensurepip module): on Debian/Ubuntu apt install python3.X-venv, or $HOW" >&2
        else
            echo "PYTHON=$1 is not a Python that starts here: $HOW" >&2
        fi
        exit 1
    fi
    version=${found%% *}
    major=${version%%.*}
    minor=${version#*.}
    if [ "$major" -ne 3 ] || [ "$minor" -lt 10 ]; then
        echo "PYTHON=$1 is Python $version; mic-seg needs 3.10 to 3.13: $HOW" >&2
        exit 1
    fi
    if ! is_supported "$version"; then
        echo "warning: PYTHON=$1 is Python $version, which mic-seg has not been tested on (tested: $SUPPORTED)" >&2
    fi
    echo "${found#* }"
    exit 0
fi

for version in $ORDER; do
    for candidate in $(candidates "$version"); do
        found=$(probe "$candidate") || continue
        if [ "${found%% *}" = "$version" ]; then
            echo "${found#* }"
            exit 0
        fi
    done
done
echo "No usable Python found: mic-seg needs python3.11, 3.12, 3.13 or 3.10 with venv; $HOW" >&2
exit 1
