"""The live path: a change is heard (`changefeed`, or the writer itself), the status is computed
once (`hub`), and every open WebSocket gets the same frame (`websocket`). `wiring.init_app`
puts the three together for one app.
"""
