"""`python -m culturalpangea_demo [out_dir=…] [fresh=true] [size=full|small]`: see run.py."""

from culturalpangea_demo.run import main

raise SystemExit(main())
