"""The ground-truth ablation table (same as `python -m fatezero_lab bench`); see fatezero_lab/bench.py.

    python benchmarks/ablations.py                 # 13 cases x 10 variants, 8 frames, 50 steps
    python benchmarks/ablations.py --steps 20      # quicker
    python benchmarks/ablations.py --fast          # smoke run
"""

import sys

from fatezero_lab.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
