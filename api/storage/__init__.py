"""Storage: the tables (models), the engine and sessions (db), and the migrations (migrate).

Everything here knows SQL and nothing about HTTP, the page or the status rules; the layers
above take a session from `Database.session()` and own its life.
"""
