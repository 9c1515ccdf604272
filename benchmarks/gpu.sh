#!/usr/bin/env bash
# The one prepared GPU check: the GPU path end to end, then the speed figures.
# Run on a machine with TensorFlow and a GPU (Colab: Runtime > Change runtime type > GPU):
#   pip install -e . && bash benchmarks/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1
out=${OUT:-$(mktemp -d)}

python - <<'PY'
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
print("TensorFlow", tf.__version__, "GPUs:", gpus)
if not gpus:
    raise SystemExit("no GPU visible to TensorFlow: this check needs one")
from kerasviz.models.precision import resolve_precision
print("default precision on this GPU:", resolve_precision("auto"))
PY

# 1. End to end on the GPU: a real script run, outputs checked.
python scripts/visualize_filters.py --model=vgg16 --weights=auto --layer=block5_conv3 --filters=0-63 \
  --size=128 --out="$out/filters" --tiles
python - "$out/filters" <<'PY'
import json, sys, numpy as np, imageio.v3 as iio
facts = json.load(open(f"{sys.argv[1]}/vgg16_block5_conv3.json"))
acts = np.array(facts["activations"])
tile = iio.imread(f"{sys.argv[1]}/vgg16_block5_conv3/0000.png")
assert tile.shape == (128, 128, 3), tile.shape
print(f"GPU run: 64 filters in {facts['seconds']} s ({facts['precision']}), "
      f"median activation {np.median(acts):.2f}, alive {np.sum(acts > 1)}/64")
PY

# 2. Speed: ms per image-step against a plain fp32 loop, and trace counts (batch 64 on a GPU).
python benchmarks/speed.py --batch=64 --steps=32
# 2b. The same with the one-channel objective convolution (on by default on CPUs only): faster here?
KERASVIZ_SINGLE_CHANNEL_CONV=1 python benchmarks/speed.py --batch=64 --steps=32
# 3. Quality and time against the keras-io baseline.
python benchmarks/filters.py --out="$out/bench"
