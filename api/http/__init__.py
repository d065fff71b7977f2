"""The HTTP side: one module per URL family, named after it, and `routes.register_routes`, the
one function that lists every route the app serves (Dash adds its page and `/_dash-*`).

Views are short: parse the request (api/http/query.py), call the one function that computes
the answer, shape JSON. Errors have one shape (api/errors.py); who may call what is api/auth.py.
"""
