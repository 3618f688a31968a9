"""`python -m tiny_models <out_dir>`: build the tiny training stack (see tiny_models/stack.py)."""

from tiny_models.stack import main

raise SystemExit(main())
