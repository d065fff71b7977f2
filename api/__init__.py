"""pipewatch's server side: everything that is not the Dash page (no Dash imports here)."""
