"""Pitlane's library: models, sources, domain logic, stores and services.

Nothing here is an entry point: deployed functions live in ``functions/``, the CLI and the local
stack in ``infra/``. Pure domain modules import neither ``google.*`` nor ``httpx``.
"""
