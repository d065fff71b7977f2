"""`/api/v1/scrape-runs`: the tracker reports its scrape runs (the scraping-health facts)."""
from __future__ import annotations

from api.http.writes import ingest
from api.storage.writes import insert_scrape_runs
from api.validation import check_scrape_run


def post_scrape_runs():
    """Store one scrape run or a list of them (all or nothing); 201 with the stored rows."""
    return ingest(check_scrape_run, insert_scrape_runs)
