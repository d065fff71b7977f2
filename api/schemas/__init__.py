"""pydantic models of every document pipewatch sends or accepts, and the OpenAPI components
generated from them (docs/architecture.md).

- `fields`: the rules of one value (a count, a source name, a time), with the messages callers see;
- `problems`: the {"path", "message"} list every 4xx carries, and the exception that holds it;
- `ingest`: the bodies of `POST /api/v1/metrics` and `/api/v1/scrape-runs`, and `check_body`;
- `documents`: every JSON document the server sends;
- `components`: `component_schemas()`, the OpenAPI 3.1 `components.schemas` of all of them.
"""
