"""`/api/v1/scrape-runs`: the tracker reports its scrape runs (the scraping-health facts)."""
from __future__ import annotations

from api.http.writes import ingest
from api.schemas.ingest import ScrapeRunInput
from api.storage.writes import insert_scrape_runs


def post_scrape_runs():
    """Store one scrape run or a list of them (all or nothing); 201 with the stored rows."""
    return ingest(ScrapeRunInput, insert_scrape_runs)
