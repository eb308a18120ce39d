"""Operations code: the manifest, provisioning, the local stack and the ``pitlane`` CLI.

This package holds the entry points that are not cloud functions (the CLI and the local stand-ins
for Google Cloud and the upstream services). The deployed functions live in ``functions/`` and the
library they share in ``shared/``.
"""
