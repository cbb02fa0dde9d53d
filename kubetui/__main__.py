"""``python -m kubetui`` is the ``kubetui`` command."""

import sys

from kubetui.cli import main

sys.exit(main())
