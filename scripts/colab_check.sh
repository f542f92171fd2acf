#!/usr/bin/env bash
# A Colab-like check of the notebooks' install cell and of every notebook, on any Linux machine (no GPU, no Colab
# account needed). It reproduces Colab's preinstalled package set first, then does what a learner's "Run all" does.
#
#   bash scripts/colab_check.sh                # checks the committed HEAD; prints COLAB CHECK: PASS or FAIL
#   WORKTREE=1 bash scripts/colab_check.sh     # checks the working tree as it is (uncommitted and untracked files
#                                              # that git does not ignore), snapshotted into a one-commit repository
#   MODES=toy NOTEBOOKS="00_quickstart 05_blending_mask" bash scripts/colab_check.sh   # a quicker subset
#   KEEP=1 ...                                 # keep /tmp/fz-colab-check (venv, freezes, logs) afterwards
#   COLAB_EXACT=1 ...                          # Colab's Python 3.13 (from PATH or pyenv) and its torch 2.11.0 as
#                                              # PyPI ships it (a CUDA build: several GB to download and unpack)
#   PYTHON=... TORCH_SPEC="torch==..." ...     # another interpreter; another torch (see steps 1-2)
#
# What it does, in a fresh virtual env under $WORK (default /tmp/fz-colab-check; never ./.venv):
#   1. the interpreter: Colab's is Python 3.13 (3.12 until its 2026-08-19 image); the first of python3.13, python3.12
#      on PATH that runs is used, else python3, and the substitution is printed (Debian 12 packages neither 3.12 nor
#      3.13; a pyenv 3.13 is used by COLAB_EXACT=1 only, as no CPU build of torch for it can be had here);
#   2. torch: Colab's 2.11.0 as a CPU build (torch==2.11.0+cpu) where pip can find one, else the CPU wheel the
#      project installs elsewhere (torch==2.13.0+cpu, scripts/setup.sh): printed as a SUBSTITUTION. PyPI's own Linux
#      wheels of torch are CUDA builds of several GB; TORCH_SPEC="torch==2.11.0" takes one of those on purpose;
#   3. Colab's preinstalled packages at Colab's versions (its published package list, snapshot of 2026-08-19): the
#      libraries fatezero_lab depends on (diffusers 0.39.0, transformers 5.15.0, huggingface_hub 1.27.0, tokenizers
#      0.22.2, ...), the notebook kernel (ipykernel 6.17.1, ipython 7.34.0, ipywidgets 7.7.1, ...), Colab's pip
#      (24.1.2) and gradio 6.24.0 (which needs huggingface_hub < 2), with all their dependencies pinned to Colab's
#      versions; torch is pinned to what step 2 installed, so nothing here may swap it; then `pip freeze` (before);
#   4. every notebook's install cell, verbatim but for its GitHub URL (replaced by git+file://<a one-commit copy of
#      HEAD, or of the working tree>), run by an IPython shell with a stand-in google.colab module so the cell's
#      Colab branch runs; after each cell `pip freeze` again. FAIL if any preinstalled package changed version or
#      disappeared (torch above all: Colab imports it in that very cell, so a change would need a runtime restart),
#      if a rerun of the cell changes anything, if `pip check` finds a broken requirement (gradio's huggingface_hub
#      < 2 is checked here), or if huggingface_hub is 2.x;
#   5. checks in the installed environment: fatezero_lab imported from the venv (not this checkout), its package
#      data (toy weights, clip manifest, presets) there;
#   6. the test runner (nbmake, pytest-rerunfailures; pinned against Colab's set so it changes none of it) and the
#      library's model-loading tests (tests/test_models.py, from the same commit; TESTS=... for others, TESTS= for
#      none) against Colab's versions of diffusers / transformers / huggingface_hub;
#   7. every notebook (from the same commit, copied outside the repository) executed by nbmake in both modes of
#      fatezero_lab.lab.setup(), each with FZ_FAST=1 HF_HUB_OFFLINE=1: `FATEZERO_LAB_MODE=toy`, then
#      `FATEZERO_LAB_MODE=sd FATEZERO_LAB_SD_STANDIN=1` (the tiny random-weight SD stand-in) on the paper's teaser
#      frames copied from shared/reference into a throwaway clip cache. A failed notebook gets one rerun (as in
#      scripts/test.sh). The sd pass is skipped, and the result says so, when the commit has no stand-in or the
#      frames are not beside this checkout.
# Not imitated: Colab's GPU and CUDA torch, its notebook frontend, its network (the sd mode's clip download).
# docs/colab.md has the last result.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-/tmp/fz-colab-check}"
VENV="$WORK/venv"
SRC="$WORK/src"
MODES="${MODES:-toy sd}"
case "$(cd "$(dirname "$WORK")" 2>/dev/null && pwd)/" in  # $WORK is deleted first: not /x, not inside the repo
  "$REPO"/*|//) echo "WORK=$WORK: pick a scratch folder"; exit 2;;
esac
TESTS="${TESTS-tests/test_models.py}"
COLAB_PY="3.13"
COLAB_TORCH="2.11.0"
export PIP_DISABLE_PIP_VERSION_CHECK=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
export PYDEVD_DISABLE_FILE_VALIDATION=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
start=$(date +%s)
NOTES=()
note() { echo "NOTE: $*"; NOTES+=("$*"); }
step() { echo; echo "== [$(( $(date +%s) - start ))s] $*"; }
fail() {
  echo; echo "COLAB CHECK: FAIL after $(( $(date +%s) - start ))s: $*"
  for n in "${NOTES[@]}"; do echo "  note: $n"; done
  exit 1
}
cleanup() { if [ "${KEEP:-0}" != "1" ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

# -- 1. the interpreter ------------------------------------------------------------------------------------------
runs() { [ -n "$1" ] && "$1" -c 'import venv' >/dev/null 2>&1; }  # a pyenv shim on PATH may exist and not run
find_py() {  # $1 = 3.13 or 3.12: that interpreter on PATH, else in pyenv's folder
  local c
  for c in "$(command -v "python$1" 2>/dev/null || true)" "$HOME"/.pyenv/versions/"$1".*/bin/"python$1"; do
    if runs "$c"; then echo "$c"; return 0; fi
  done
  return 1
}
if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ "${COLAB_EXACT:-0}" = "1" ]; then
  PY=$(find_py 3.13) || fail "COLAB_EXACT=1: no working python3.13 here"
  TORCH_SPEC="${TORCH_SPEC:-torch==$COLAB_TORCH}"
else
  # Colab's own interpreter if it is on PATH; else python3, for which the project's CPU wheel of torch is at hand
  PY=python3
  for v in 3.13 3.12; do c=$(command -v "python$v" 2>/dev/null || true); if runs "$c"; then PY="$c"; break; fi; done
fi
PYV=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
case "$PYV" in
  3.13) ;;
  3.12) note "Python 3.12 (Colab's until its 2026-08-19 image; Colab now runs 3.13)";;
  *) onpath=$(cd /usr/bin && ls python3.* 2>/dev/null | grep -E '^python3\.[0-9]+$' | tr '\n' ' ')
     other=$(find_py 3.13 || true)
     if [ -n "$other" ]; then
       other="$other exists, but no CPU build of torch for it can be had here: COLAB_EXACT=1 uses it with PyPI's"
       other="$other torch $COLAB_TORCH (a CUDA build, several GB)."
     fi
     note "SUBSTITUTION: Python $PYV instead of Colab's $COLAB_PY (3.12 before 2026-08-19). In /usr/bin: $onpath" \
          "(this Debian release packages neither 3.12 nor 3.13). $other";;
esac

step "fresh venv in $VENV ($("$PY" --version))"
rm -rf "$WORK"
mkdir -p "$WORK/notebooks" "$WORK/run" "$WORK/outputs"
"$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
VPIP=pipq
# pip, less the lines this machine's pip configuration adds to every call ("Location ... is ignored")
pipq() { "$VPY" -m pip "$@" 2> >(grep -v 'is ignored' >&2); }
# Colab's pip (the venv's bundled pip may be older: 23.x rejects "name @ git+file:///..." requirements)
$VPIP install --quiet "pip==24.1.2"
freeze() { $VPIP freeze --all 2>/dev/null | grep -v -i -E '^(pip|setuptools|wheel)==' | sort -f; }

# -- 2. torch ----------------------------------------------------------------------------------------------------
if [ -n "${TORCH_SPEC:-}" ]; then step "torch: $TORCH_SPEC"
else step "torch: Colab's $COLAB_TORCH as a CPU build if pip can find one, else the project's CPU wheel"; fi
if [ -n "${TORCH_SPEC:-}" ]; then
  $VPIP install --quiet "$TORCH_SPEC" || fail "could not install TORCH_SPEC=$TORCH_SPEC"
elif $VPIP install --quiet --retries 0 --timeout 20 "torch==$COLAB_TORCH+cpu" 2>/dev/null; then
  :
elif $VPIP install --quiet "torch==2.13.0+cpu" 2>/dev/null \
     || $VPIP install --quiet "torch==2.13.0+cpu" --find-links /opt/wheels 2>/dev/null \
     || $VPIP install --quiet --retries 1 "torch==2.13.0+cpu" --extra-index-url https://download.pytorch.org/whl/cpu; then
  :
else
  fail "no CPU build of torch could be installed"
fi
TORCH=$("$VPY" -c 'import importlib.metadata as m; print(m.version("torch"))')
if [ "${TORCH%%+*}" != "$COLAB_TORCH" ]; then
  note "SUBSTITUTION: torch $TORCH instead of Colab's $COLAB_TORCH+cu128 (no CPU build of $COLAB_TORCH can be had" \
       "here; PyPI's $COLAB_TORCH is a CUDA build of several GB: TORCH_SPEC=torch==$COLAB_TORCH takes it)"
fi
echo "torch $TORCH"

# -- 3. Colab's preinstalled set ---------------------------------------------------------------------------------
# Colab's versions (GPU runtime, package list of 2026-08-19) of the packages that fatezero_lab, its install cell, the
# notebook kernel and gradio bring into a venv. First the ones named on purpose, then their dependencies.
cat > "$WORK/colab-set.txt" <<'EOF'
diffusers==0.39.0 transformers==5.15.0 huggingface_hub==1.27.0 hf-xet==1.6.0 tokenizers==0.22.2 accelerate==1.14.0
safetensors==0.8.0 numpy==2.1.3 matplotlib==3.10.0 pillow==11.3.0 ImageIO==2.37.4 imageio-ffmpeg==0.6.0 tqdm==4.67.3
PyYAML==6.0.3 ipywidgets==7.7.1 widgetsnbextension==3.6.10 jupyterlab_widgets==3.0.16 ipykernel==6.17.1
ipython==7.34.0 jupyter_client==7.4.9 traitlets==5.7.1 tornado==6.5.7 nbformat==5.11.1 nbclient==0.10.4
jupytext==1.19.5 pytest==8.4.2 gradio==6.24.0 gradio_client==2.6.0 packaging==26.3 requests==2.32.4 httpx==0.28.1
fsspec==2025.3.0 filelock==3.32.3 typing_extensions==4.16.0
annotated-doc==0.0.5 annotated-types==0.8.0 anyio==4.14.2 argon2-cffi-bindings==25.1.0 argon2-cffi==25.1.0
arrow==1.4.0 attrs==26.1.0 backcall==0.2.0 beautifulsoup4==4.13.5 bleach==6.4.0 brotli==1.2.0 certifi==2026.7.22
cffi==2.1.1 charset-normalizer==3.4.9 click==8.4.2 contourpy==1.3.3 cycler==0.12.1 debugpy==1.8.15 decorator==4.4.2
defusedxml==0.7.1 entrypoints==0.4 fastapi==0.141.1 fastjsonschema==2.22.2 fonttools==4.63.0 fqdn==1.5.1 groovy==0.1.2
h11==0.16.0 hf-gradio==0.4.1 httpcore==1.0.9 idna==3.18 importlib_metadata==9.0.0 iniconfig==2.3.0
ipython-genutils==0.2.0 isoduration==20.11.0 Jinja2==3.1.6 jsonpointer==3.1.1
jsonschema-specifications==2025.9.1 jsonschema==4.26.0 jupyter-events==0.12.1 jupyter_core==5.9.1
jupyter_server==2.20.0 jupyter_server_terminals==0.5.4 jupyterlab_pygments==0.3.0 kiwisolver==1.5.0 lark==1.3.1
markdown-it-py==4.2.0 MarkupSafe==3.0.3 matplotlib-inline==0.2.2 mdit-py-plugins==0.6.1 mdurl==0.1.2 mistune==3.3.4
mpmath==1.3.0 nbclassic==1.3.3 nbconvert==7.17.1 nest-asyncio==1.6.0 networkx==3.6.1 notebook==6.5.7
notebook_shim==0.2.4 orjson==3.12.0 pandas==2.2.3 pandocfilters==1.5.1 parso==0.8.7 pexpect==4.9.0
pickleshare==0.7.5 platformdirs==4.11.3 pluggy==1.6.0 prometheus_client==0.26.0 prompt_toolkit==3.0.53 psutil==5.9.5
ptyprocess==0.7.0 pycparser==3.0 pydantic==2.13.4 pydantic_core==2.46.4 pydub==0.25.1 Pygments==2.21.0
pyparsing==3.3.2 python-dateutil==2.9.0.post0 python-json-logger==4.2.0 python-multipart==0.0.32 pytz==2025.2
pyzmq==26.2.1 referencing==0.37.0 regex==2025.11.3 rfc3339-validator==0.1.4 rfc3986-validator==0.1.1
rfc3987-syntax==1.1.0 rich==13.9.4 rpds-py==2026.6.3 safehttpx==0.1.7 semantic-version==2.10.0 Send2Trash==2.1.0
shellingham==1.5.4 six==1.17.0 soupsieve==2.9.2 starlette==1.6.0 sympy==1.14.0 terminado==0.18.1 tinycss2==1.5.1
tomlkit==0.14.0 typer==0.27.1 typing-inspection==0.4.4 tzdata==2026.3 uri-template==1.3.0 urllib3==2.5.0
uvicorn==0.52.3 wcwidth==0.8.2 webcolors==25.10.0 webencodings==0.6.1 websocket-client==1.9.0 zipp==4.1.0
EOF
tr ' ' '\n' < "$WORK/colab-set.txt" | grep . > "$WORK/colab-pins.txt"
echo "torch==$TORCH" >> "$WORK/colab-pins.txt"  # a constraint: the set may not swap torch for another build
step "Colab's preinstalled set: $(( $(wc -l < "$WORK/colab-pins.txt") - 1 )) packages at Colab's versions (+ torch held)"
$VPIP install --quiet -r "$WORK/colab-pins.txt" || fail "Colab's package set could not be installed here"
$VPIP check || fail "Colab's package set is inconsistent here (pip check)"
freeze > "$WORK/freeze-0-colab.txt"
grep -i -E '^(torch|diffusers|transformers|huggingface.hub|tokenizers|accelerate|ipywidgets|gradio)==' \
  "$WORK/freeze-0-colab.txt" | tr '\n' ' '; echo

# -- 4. the install cells ----------------------------------------------------------------------------------------
if [ "${WORKTREE:-0}" = "1" ]; then
  step "snapshot of the working tree (tracked and untracked files git does not ignore) as a one-commit repository"
  mkdir -p "$SRC"
  (cd "$REPO" && git ls-files -z -c -o --exclude-standard | "$PY" -c '
import os, shutil, sys
dst = sys.argv[1]
for p in sys.stdin.buffer.read().decode().split("\0"):
    if not p or not os.path.lexists(p):  # a tracked file deleted in the working tree
        continue
    d = os.path.join(dst, p)
    os.makedirs(os.path.dirname(d), exist_ok=True)
    if os.path.islink(p):
        os.symlink(os.readlink(p), d)
    else:
        shutil.copy2(p, d)
' "$SRC") || fail "could not snapshot the working tree"
  (cd "$SRC" && git init -q && git add -A \
     && git -c user.name=colab-check -c user.email=colab-check@localhost commit -q -m "working tree of $REPO") \
    || fail "could not commit the snapshot"
  WHAT="the working tree of $REPO (HEAD $(git -C "$REPO" rev-parse --short HEAD) + uncommitted changes)"
else
  step "HEAD as a one-commit repository"
  if ! git -C "$REPO" diff --quiet HEAD 2>/dev/null || [ -n "$(git -C "$REPO" ls-files -o --exclude-standard)" ]; then
    note "the working tree has uncommitted changes: this checks HEAD only (WORKTREE=1 checks them)"
  fi
  # not a shallow clone: pip clones with --filter=blob:none, and a partial clone of a shallow repository makes git
  # fetch missing objects from itself recursively (thousands of processes)
  mkdir -p "$SRC"
  (git -C "$REPO" archive HEAD | tar -x -C "$SRC") || fail "could not export HEAD"
  (cd "$SRC" && git init -q && git add -A \
     && git -c user.name=colab-check -c user.email=colab-check@localhost commit -q -m "HEAD of $REPO") \
    || fail "could not commit HEAD's copy"
  WHAT="HEAD $(git -C "$REPO" rev-parse --short HEAD)"
fi
echo "checking $WHAT"
cp "$SRC"/notebooks/*.ipynb "$WORK/notebooks/"
if [ -n "${NOTEBOOKS:-}" ]; then
  keep=()
  for nb in $NOTEBOOKS; do [ -f "$WORK/notebooks/$nb.ipynb" ] || fail "no notebook $nb"; keep+=("$nb.ipynb"); done
  for f in "$WORK"/notebooks/*.ipynb; do
    case " ${keep[*]} " in *" $(basename "$f") "*) ;; *) rm "$f";; esac
  done
fi
nbs=("$WORK"/notebooks/*.ipynb)
[ -e "${nbs[0]}" ] || fail "no notebooks"

cat > "$WORK/tools.py" <<'EOF'
"""Helpers: the install cell of a notebook, with its URL swapped; the difference between two pip freezes."""
import json
import re
import sys


def cell(nb_path, url):
    nb = json.load(open(nb_path))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "skip-execution" in c["metadata"].get("tags", [])
             and "install" in "".join(c["source"])]
    if not cells:
        sys.exit(f"{nb_path}: no install cell (a code cell tagged skip-execution that installs)")
    src = "".join(cells[0]["source"])
    new, n = re.subn(r"git\+https://github\.com/[^\"' ]+", url, src)
    if n != 1:
        sys.exit(f"{nb_path}: expected one git+https://github.com/... URL in the install cell, found {n}")
    return new


def parse(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, version = line.partition("==") if "==" in line else line.partition(" @ ")
        out[re.sub(r"[-_.]+", "-", name).lower()] = (name.strip(), version.strip())
    return out


def diff(before, after):
    """Print what changed; exit 1 if a package of `before` changed version or disappeared."""
    a, b = parse(before), parse(after)
    changed = [f"{a[k][0]} {a[k][1]} -> {b[k][1]}" for k in a if k in b and a[k][1] != b[k][1]]
    gone = [f"{a[k][0]} {a[k][1]}" for k in a if k not in b]
    added = [f"{b[k][0]} {b[k][1]}" for k in b if k not in a]
    print("  added:", ", ".join(added) or "nothing")
    print("  changed:", ", ".join(changed) or "nothing")
    print("  removed:", ", ".join(gone) or "nothing")
    sys.exit(1 if changed or gone else 0)


if __name__ == "__main__":
    if sys.argv[1] == "cell":
        print(cell(sys.argv[2], sys.argv[3]))
    else:
        diff(sys.argv[2], sys.argv[3])
EOF

first=""
i=0
for nb in "${nbs[@]}"; do
  i=$((i + 1))
  name=$(basename "$nb" .ipynb)
  step "install cell of $name ($i/${#nbs[@]}), verbatim but for the URL (git+file://$SRC)"
  code=$("$PY" "$WORK/tools.py" cell "$nb" "git+file://$SRC") || fail "$name: $code"
  if [ -z "$first" ]; then first="$code"; echo "$code" | sed 's/^/cell:   /'
  elif [ "$code" != "$first" ]; then echo "$code" | sed 's/^/cell:   /'; note "$name's install cell differs from the first one"
  else echo "(the same cell as the first notebook's)"; fi
  # the notebook kernel is an IPython shell: run the cell in one (magics work), with a stand-in google.colab module
  printf '%s\n' "$code" > "$WORK/cell.py"
  (cd "$WORK/run" && "$VPY" -c '
import sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
from IPython.core.interactiveshell import InteractiveShell
result = InteractiveShell.instance().run_cell(open(sys.argv[1]).read())
sys.exit(0 if result.success else 1)
' "$WORK/cell.py") || fail "$name: the install cell failed"
  freeze > "$WORK/freeze-$i.txt"
  echo "pip freeze against Colab's set:"
  "$VPY" "$WORK/tools.py" diff "$WORK/freeze-0-colab.txt" "$WORK/freeze-$i.txt" \
    || fail "$name: the install cell changed or removed a preinstalled package (a Colab runtime restart, or worse)"
  if [ "$i" -gt 1 ] && ! cmp -s "$WORK/freeze-1.txt" "$WORK/freeze-$i.txt"; then
    diff "$WORK/freeze-1.txt" "$WORK/freeze-$i.txt" || true
    fail "$name: running an install cell again changed the environment"
  fi
done
step "pip check (gradio $(grep -i '^gradio==' "$WORK/freeze-1.txt" | cut -d= -f3) beside it: huggingface_hub must stay < 2)"
$VPIP check || fail "pip check found a broken requirement after the install cell"
HUB=$("$VPY" -c 'import huggingface_hub as h; print(h.__version__)')
echo "huggingface_hub $HUB"
case "$HUB" in 1.*) ;; *) fail "huggingface_hub $HUB after the install cell: Colab's gradio needs < 2";; esac

# -- 5. the installed package ------------------------------------------------------------------------------------
step "checks in the installed environment"
(cd "$WORK/run" && "$VPY" - "$VENV" <<'EOF'
import sys
from pathlib import Path

import ipywidgets
import torch

import fatezero_lab as fz
import fatezero_lab.data

venv = Path(sys.argv[1]).resolve()
here = Path(fz.__file__).resolve().parent
print("ipywidgets", ipywidgets.__version__, "| torch", torch.__version__, "| fatezero_lab", fz.__version__, "from", here)
assert ipywidgets.__version__.startswith("7."), f"ipywidgets {ipywidgets.__version__} is not 7.x: something upgraded it"
assert venv in here.parents, "fatezero_lab was not imported from the fresh venv"
assert (here / "toyworld" / "weights" / "model_index.json").exists(), "toy weights not installed"
assert list((here / "presets").glob("*.yaml")), "presets not installed"
print("clips:", fatezero_lab.data.list_clips())
EOF
) || fail "environment checks failed"

# -- 6. test runner; the library's model-loading tests -----------------------------------------------------------
step "nbmake + pytest-rerunfailures (the test runner), held to Colab's set"
grep -v -i '^fatezero' "$WORK/freeze-1.txt" | grep '==' > "$WORK/held.txt"
$VPIP install --quiet nbmake pytest-rerunfailures -c "$WORK/held.txt" \
  || fail "the test runner cannot be installed without changing Colab's packages"
if [ -n "$TESTS" ]; then
  step "the library's tests at Colab's versions: $TESTS (from the same commit, against the installed package)"
  cp -r "$SRC/tests" "$WORK/run/tests"
  (cd "$WORK/run" && HF_HUB_OFFLINE=1 FZ_FAST=1 "$VPY" -m pytest $TESTS -p no:cacheprovider -q -ra \
     -W ignore::DeprecationWarning) || fail "tests failed at Colab's versions: $TESTS"
fi

# -- 7. the notebooks in both modes ------------------------------------------------------------------------------
teaser=""
for d in "$REPO/shared/reference" "$REPO/../shared/reference" /work/shared/reference; do
  if [ -d "$d/FateZero/data/teaser_car-turn" ]; then teaser="$d/FateZero/data/teaser_car-turn"; break; fi
done
ran=()
skipped=()
for mode in $MODES; do
  envs=(FATEZERO_LAB_MODE="$mode" FZ_FAST=1 HF_HUB_OFFLINE=1 FATEZERO_LAB_OUT="$WORK/outputs")
  if [ "$mode" = "sd" ]; then
    if ! grep -q FATEZERO_LAB_SD_STANDIN "$SRC/fatezero_lab/lab.py" 2>/dev/null; then
      skipped+=("sd (this commit has no FATEZERO_LAB_SD_STANDIN in fatezero_lab/lab.py)"); continue
    fi
    if [ -z "$teaser" ]; then
      why="the paper's teaser frames, shared/reference/FateZero/data/teaser_car-turn, are not beside this checkout"
      skipped+=("sd ($why: fz.data.fetch cannot download them offline)")
      continue
    fi
    mkdir -p "$WORK/clips/car-turn" && cp "$teaser"/*.png "$WORK/clips/car-turn/"
    envs+=(FATEZERO_LAB_SD_STANDIN=1 FATEZERO_LAB_CACHE="$WORK/clips")
  fi
  step "${#nbs[@]} notebooks in $mode mode (${envs[*]}), nbmake, outside the repository"
  t0=$(date +%s)
  mkdir -p "$WORK/plugins" && cp "$REPO/scripts/zmq_poll_slices.py" "$WORK/plugins/"  # as scripts/test.sh: nbclient#312
  (cd "$WORK" && env "${envs[@]}" PYTHONPATH="$WORK/plugins" "$VPY" -m pytest -p zmq_poll_slices notebooks --nbmake \
     --nbmake-timeout=300 --reruns 1 -p no:cacheprovider -q -ra) || fail "a notebook failed in $mode mode in the Colab-like environment"
  ran+=("$mode ($(( $(date +%s) - t0 ))s)")
done
[ "${#ran[@]}" -gt 0 ] || fail "no mode ran: ${skipped[*]}"

echo
echo "COLAB CHECK: PASS in $(( $(date +%s) - start ))s: $WHAT, Python $PYV, torch $TORCH unchanged by the install" \
     "cell, huggingface_hub $HUB; ${#nbs[@]} notebooks ran in ${ran[*]}"
for s in "${skipped[@]}"; do echo "  SKIPPED: mode $s"; done
for n in "${NOTES[@]}"; do echo "  note: $n"; done
