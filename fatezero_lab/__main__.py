"""``python -m fatezero_lab``: the command line (:mod:`fatezero_lab.cli`)."""
import sys

from fatezero_lab.cli import main

if __name__ == "__main__":
    sys.exit(main())
