"""Backfilling Firestore from the F1 archive and Jolpica (issue 5).

* :mod:`shared.imports.gaps` (pure): what the schedule says exists upstream and Firestore lacks,
  with the upstream calls an import costs per host;
* :mod:`shared.imports.planning` (pure): which gaps fit the quota left this hour, oldest first;
* :mod:`shared.imports.quota`: the per-host hourly call ledger in Firestore (``quota/{host}_{hour}``),
  shared by every instance.
"""
