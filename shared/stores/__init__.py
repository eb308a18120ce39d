"""Firestore persistence: documents in, documents out, writes only what changed."""
