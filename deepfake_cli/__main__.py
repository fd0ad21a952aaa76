import sys

from deepfake_cli.main import main

sys.exit(main())
