"""Entry point: ``python -m attack_clients <attack> ...`` (see ``attack_clients.cli``)."""

from attack_clients.cli import main

raise SystemExit(main())
