import sys

from digitreader.cli import main

sys.exit(main())
