import sys

from lpft.cli import main

sys.exit(main())
