"""Pydantic models at Pitlane's boundaries: Firestore documents, event payloads, API responses."""
