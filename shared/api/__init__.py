"""The HTTP API's building blocks, independent of the web framework: a route table whose pydantic
models generate the OpenAPI 3.1 document, problem details (RFC 9457), parameter validation with
readable messages, cursor pagination, entity tags and a small per-instance response cache."""
