"""``python -m portal.client``: the same as the ``portal-client`` console script."""

import sys

from portal.client import main

sys.exit(main())
