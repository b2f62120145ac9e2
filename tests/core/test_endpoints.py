"""Requests as transports send them: described by their endpoint, ids quoted in paths or sent as arrays."""

from __future__ import annotations

from airflow_provider_apollo.core.endpoints import ApiRequest, get_contact_request, ids_params


def test_requests_describe_themselves_by_endpoint_and_quote_ids() -> None:
    request = get_contact_request("a/b c")
    assert request.path == "/contacts/a%2Fb%20c"
    assert (request.method, request.rate_group) == ("GET", "/contacts/{contact_id}")
    assert request.describe() == "GET /contacts/{contact_id}" == request.rate_key
    assert ApiRequest("POST", "/x").describe() == "POST /x"


def test_ids_are_sent_as_rails_array_query_parameters() -> None:
    assert ids_params("contact_ids", ["a", "b"], {"owner_id": "u"}) == (
        ("contact_ids[]", "a"),
        ("contact_ids[]", "b"),
        ("owner_id", "u"),
    )
