"""Use cases: each takes its dependencies as keyword arguments (db, http, publisher, settings)."""
