"""``python -m gpubp.cli``: the same command line as ``gpubp`` and ``python -m gpubp``."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
