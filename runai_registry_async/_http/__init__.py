"""The request pipeline: everything between an operation and the network.

``_requester`` runs it (wait for a turn, authenticate, send, classify, decode or open a
stream, retry); the other modules are its stages and rules: ``_auth`` (tokens),
``_retry`` (what to do after a failure), ``_deadline``, ``_ratelimit`` (politeness: the
pace, set from ``_adaptive`` and advertised limits, kept by ``_limiter``),
``_coalescing`` (shared GETs), ``_transport`` (aiohttp), ``_urls`` (URL and proxy rules),
``_stream`` and ``_jsonstream`` (bodies read as they arrive).
"""
