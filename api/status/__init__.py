"""The status rules: what is healthy, what alerts, what is anomalous, and the one document.

`document.pipeline_status` is the ONE computation behind REST, the WebSocket and polling; it
reads the newest rows and hands them to the pure rules of `health`, `quality`, `anomalies` and
`alerts`, which all judge through `thresholds`. `series` aggregates the charts' trends and
`sequence` numbers the documents.
"""
