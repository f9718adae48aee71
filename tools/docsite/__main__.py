"`python -m docsite [OUT]`: build the documentation site (see docsite.build)."
import sys
from .build import main

sys.exit(main())
