"""The demo: a simulated pipeline for `make run`, with no outside service.

`profiles` describes the demo's sources, places and incidents; `seed` writes 30 days of history
from them; `simulator` keeps writing live rows while the demo runs.
"""
