"""Transport to the upstream services: each client returns raw payloads; parsing lives elsewhere."""
