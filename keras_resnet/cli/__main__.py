"""``python -m keras_resnet.cli ...``: the ``keras-resnet`` command line, for environments
whose scripts folder is not on PATH."""

import sys

from . import main

sys.exit(main())
