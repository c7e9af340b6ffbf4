"""``python -m keras_resnet ...``: the ``keras-resnet`` command line, for environments
whose scripts folder is not on PATH."""

import sys

from .cli import main

sys.exit(main())
