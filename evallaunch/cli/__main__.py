import sys

from evallaunch.cli.main import main

sys.exit(main())
