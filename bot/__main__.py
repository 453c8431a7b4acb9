"""`python -m bot …` is `conflictbot …`."""

import sys

from bot.cli import main

sys.exit(main())
