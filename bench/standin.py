"""An independent stand-in for Apollo's contact search, for benchmarks: written from Apollo's API reference only.

It shares no code with the package's emulator (``airflow_provider_apollo.testing``), so a benchmark
against it measures the provider against Apollo's documented behaviour, not against our own idea
of it. It serves one endpoint, as "Search for Contacts" documents it
(https://docs.apollo.io/reference/search-for-contacts):

- ``POST /api/v1/contacts/search`` with a JSON body holding ``page`` (from 1) and ``per_page``
  (at most 100); other filters (``q_keywords``, ``contact_stage_ids``, ``sort_by_field`` ...)
  are accepted and ignored: every contact matches, oldest first;
- the answer: ``{"contacts": [...], "breadcrumbs": [], "partial_results_only": false,
  "disable_eu_prospecting": false, "partial_results_limit": 10000, "pagination": {"page",
  "per_page", "total_entries", "total_pages"}, "num_fetch_result": null}``; contacts carry the
  fields the reference's example shows (ids, names, title, email, stage, owner, organization,
  phone numbers, emails, campaign statuses, custom fields, timestamps ...), about 2 KB each;
- Apollo's display limit: at most 500 pages of 100 (50,000 records) are served; a page past it
  answers an empty ``contacts`` list;
- the key in ``x-api-key`` (or ``Authorization: Bearer``) must be the one given, else 401.

Every page is rendered once at start-up, so answering costs the stand-in a socket write, not
JSON encoding the client would be charged for. HTTP/1.1 keep-alive, one thread per connection.

Usage: ``python bench/standin.py --contacts 50000 [--port 0] [--api-key KEY]``; it prints
``listening on http://127.0.0.1:PORT/api/v1`` once ready and serves until terminated.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEARCH_PATH = "/api/v1/contacts/search"
PER_PAGE_MAX = 100
DISPLAY_LIMIT = 50_000
EPOCH = datetime.datetime(2023, 1, 2, 9, 0, tzinfo=datetime.timezone.utc)
STAGE_IDS = ("6095a710bd01d100a506d4ae", "6095a710bd01d100a506d4af", "6095a710bd01d100a506d4b0")
TITLES = ("VP of Engineering", "Head of Data", "Senior Research Analyst", "Chief Revenue Officer")
COMPANIES = ("Acme Analytics", "Northwind Logistics", "Globex Robotics", "Initech Software")
CITIES = (("San Francisco", "California"), ("Austin", "Texas"), ("New York", "New York"))


def _stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def contact(index: int) -> dict[str, Any]:
    """Contact number ``index``, deterministic, shaped like the reference's example."""
    first, last = f"Ada{index}", f"Lovelace{index % 997}"
    company = COMPANIES[index % len(COMPANIES)]
    domain = company.split()[0].lower() + ".example"
    city, state = CITIES[index % len(CITIES)]
    created = EPOCH + datetime.timedelta(minutes=index)
    updated = created + datetime.timedelta(days=30, seconds=index % 3600)
    contact_id = f"66{index:022x}"
    return {
        "id": contact_id,
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "linkedin_url": f"http://www.linkedin.com/in/{first.lower()}-{last.lower()}",
        "title": TITLES[index % len(TITLES)],
        "contact_stage_id": STAGE_IDS[index % len(STAGE_IDS)],
        "owner_id": "60affe7d6e270a00f5db6fe4",
        "creator_id": "60affe7d6e270a00f5db6fe4",
        "person_id": f"54{index:022x}",
        "email_needs_tickling": False,
        "organization_name": company,
        "source": "api",
        "original_source": "api",
        "organization_id": f"5e{index % 4000:022x}",
        "headline": f"{TITLES[index % len(TITLES)]} at {company}",
        "photo_url": None,
        "present_raw_address": f"{city}, {state}, United States",
        "linkedin_uid": None,
        "extrapolated_email_confidence": None,
        "salesforce_id": None,
        "salesforce_lead_id": None,
        "salesforce_contact_id": None,
        "salesforce_account_id": None,
        "crm_owner_id": None,
        "created_at": _stamp(created),
        "emailer_campaign_ids": [],
        "direct_dial_status": None,
        "direct_dial_enrichment_failed_at": None,
        "email_status": "verified",
        "email_source": None,
        "account_id": f"63{index % 4000:022x}",
        "last_activity_date": None,
        "hubspot_vid": None,
        "hubspot_company_id": None,
        "crm_id": None,
        "sanitized_phone": f"+1415555{index % 10000:04d}",
        "merged_crm_ids": None,
        "updated_at": _stamp(updated),
        "queued_for_crm_push": False,
        "suggested_from_rule_engine_config_id": None,
        "email_unsubscribed": None,
        "label_ids": [],
        "has_pending_email_arcgate_request": False,
        "has_email_arcgate_request": False,
        "existence_level": "full",
        "email": f"{first.lower()}.{last.lower()}@{domain}",
        "email_from_customer": True,
        "typed_custom_fields": {},
        "custom_field_errors": {},
        "crm_record_url": None,
        "email_status_unavailable_reason": None,
        "email_true_status": "Verified",
        "updated_email_true_status": True,
        "contact_rule_config_statuses": [],
        "source_display_name": "Created from API",
        "twitter_url": None,
        "contact_campaign_statuses": [],
        "state": state,
        "city": city,
        "country": "United States",
        "account": {"id": f"63{index % 4000:022x}", "name": company, "domain": domain},
        "contact_emails": [
            {
                "email": f"{first.lower()}.{last.lower()}@{domain}",
                "email_md5": None,
                "email_sha256": None,
                "email_status": "verified",
                "email_source": None,
                "extrapolated_email_confidence": None,
                "position": 0,
                "email_from_customer": True,
                "free_domain": False,
            }
        ],
        "organization": {"id": f"5e{index % 4000:022x}", "name": company, "primary_domain": domain},
        "employment_history": [],
        "time_zone": "America/Los_Angeles",
        "intent_strength": None,
        "show_intent": False,
        "phone_numbers": [
            {
                "raw_number": f"(415) 555-{index % 10000:04d}",
                "sanitized_number": f"+1415555{index % 10000:04d}",
                "type": "work_direct",
                "position": 0,
                "status": "no_status",
                "dnc_status": None,
                "dnc_other_info": None,
                "dialer_flags": None,
            }
        ],
        "account_phone_note": None,
        "free_domain": False,
        "is_likely_to_engage": True,
        "email_domain_catchall": False,
        "contact_job_change_event": None,
    }


def render_pages(total: int, per_page: int = PER_PAGE_MAX) -> list[bytes]:
    """Every page Apollo would serve for a search matching ``total`` contacts, as response bodies."""
    return [page_body(total, number, per_page) for number in range(1, _served_pages(total, per_page) + 1)]


def _served_pages(total: int, per_page: int) -> int:
    return math.ceil(min(total, DISPLAY_LIMIT) / per_page)


def page_body(total: int, page: int, per_page: int) -> bytes:
    """The answer to a search matching ``total`` contacts for one page: empty past the display limit."""
    first = (page - 1) * per_page
    last = min(first + per_page, total, DISPLAY_LIMIT)
    contacts = [contact(index) for index in range(first, last)] if page >= 1 else []
    return _body(contacts, page, per_page, total, math.ceil(total / per_page))


def _body(contacts: list[dict[str, Any]], page: int, per_page: int, total: int, total_pages: int) -> bytes:
    return json.dumps(
        {
            "contacts": contacts,
            "breadcrumbs": [],
            "partial_results_only": False,
            "disable_eu_prospecting": False,
            "partial_results_limit": 10000,
            "pagination": {
                "page": page,
                "per_page": per_page,
                "total_entries": total,
                "total_pages": total_pages,
            },
            "num_fetch_result": None,
        },
        separators=(",", ":"),
    ).encode()


class StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, total: int, api_key: str) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.total = total
        self.api_key = api_key
        self.pages = render_pages(total)
        self.searches = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/v1"

    def page_body(self, page: int, per_page: int) -> bytes:
        if per_page == PER_PAGE_MAX and 1 <= page <= len(self.pages):
            return self.pages[page - 1]
        return page_body(self.total, page, per_page)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandIn

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        key = self.headers.get("x-api-key") or bearer
        if key != self.server.api_key:
            self._answer(401, b'{"error":"Invalid access credentials."}')
            return
        if self.path.split("?")[0] != SEARCH_PATH:
            self._answer(404, b'{"error":"Not found"}')
            return
        try:
            query = json.loads(raw or b"{}")
            page = int(query.get("page") or 1)
            per_page = int(query.get("per_page") or 10)
        except (ValueError, TypeError, AttributeError):
            self._answer(422, b'{"error":"Invalid request"}')
            return
        if not 1 <= per_page <= PER_PAGE_MAX:
            self._answer(422, b'{"error":"per_page must be between 1 and 100"}')
            return
        self.server.searches += 1
        self._answer(200, self.server.page_body(page, per_page))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="standin-key")
    args = parser.parse_args()
    server = StandIn(args.port, args.contacts, args.api_key)
    print(f"listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
