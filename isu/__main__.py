import sys

from isu.cli import main

sys.exit(main())
