"""``python -m gpubp``: the same command line as ``gpubp`` (see :mod:`gpubp.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
