"""The REST API (``findme api``): a second door to the functions the dashboard's pages call.

FastAPI on uvicorn, versioned under ``/api/v1``; one router per resource (``routes_*``), the key
and its role as dependencies (:mod:`findme.api.auth`), Pydantic models that are the OpenAPI
schema (:mod:`findme.api.schemas`). No rule lives here: consent, permissions, duplicates, leads
and budgets are ``findme/``'s, exactly as a person of the key's role meets them on the pages.
"""
