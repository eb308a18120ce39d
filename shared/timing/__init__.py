"""Live timing: one reducer folds the feed (live, archive, recording, OpenF1) into session state.

``models`` is the contract between the reducer (pure, ``reducer.py``) and the writers (Firestore
documents, Pub/Sub events): every source produces these models, so the API cannot tell sources
apart.
"""
