"""HTTP plumbing of the emulator: parse, authenticate, rate-limit, inject faults, dispatch, answer."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_apollo.testing.emulator import ApiError, EmulatedRequest, Fault, RecordedRequest

if TYPE_CHECKING:
    from airflow_provider_apollo.testing.emulator import ApolloEmulator

API_PREFIX = "/api/v1"
LEGACY_PREFIX = "/v1"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
UNAUTHORIZED_BODY = b"Invalid access credentials."

# Apollo's bodies for injected status faults.
STATUS_FAULT_BODIES: dict[int, dict[str, Any]] = {
    400: {"error": "Bad request"},
    403: {
        "error": "This API key is not authorized to access this endpoint.",
        "error_code": "API_INACCESSIBLE",
    },
    404: {"error": "Not Found"},
    422: {"error": "Parameters misconfigured."},
    500: {"error": "An error occurred while processing the request. Please try again."},
}
GATEWAY_STATUSES = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
DEFAULT_FAULT_RETRY_AFTER = 1.0


@dataclass(frozen=True)
class Route:
    """An endpoint: methods, path pattern below the prefix, Apollo's path template and the emulator handler."""

    methods: frozenset[str]
    pattern: re.Pattern[str]
    template: str
    handler: str


def _route(methods: str, pattern: str, template: str, handler: str) -> Route:
    return Route(frozenset(methods.split()), re.compile(f"^{pattern}$"), f"api/v1{template}", handler)


_CONTACT_ID = r"/contacts/(?P<contact_id>[^/]+)"
_SEQUENCE_ID = r"/emailer_campaigns/(?P<sequence_id>[^/]+)"
# accounts.yml names the path parameter account_id for PATCH and id for GET; each route keeps its name.
_ACCOUNT_PATH = r"/accounts/(?P<{name}>[^/]+)"
_OPPORTUNITY_ID = r"/opportunities/(?P<opportunity_id>[^/]+)"
# Fixed paths first, so "search" is never taken for a contact id.
ROUTES: tuple[Route, ...] = (
    _route("POST", "/contacts", "/contacts", "api_create_contact"),
    _route("PUT PATCH", "/contacts", "/contacts", "api_update_contact"),
    _route("POST", "/contacts/bulk_create", "/contacts/bulk_create", "api_bulk_create"),
    _route("POST", "/contacts/bulk_update", "/contacts/bulk_update", "api_bulk_update"),
    _route("POST GET", "/contacts/search", "/contacts/search", "api_search"),
    _route("POST", "/contacts/update_stages", "/contacts/update_stages", "api_update_stages"),
    _route("POST", "/contacts/update_owners", "/contacts/update_owners", "api_update_owners"),
    _route("GET", _CONTACT_ID, "/contacts/{contact_id}", "api_view_contact"),
    _route("PUT PATCH", _CONTACT_ID, "/contacts/{contact_id}", "api_update_contact"),
    _route("GET", "/contact_stages", "/contact_stages", "api_list_stages"),
    _route("GET POST", "/users/search", "/users/search", "api_users_search"),
    _route("GET", "/users/api_profile", "/users/api_profile", "api_users_profile"),
    _route("GET", "/auth/health", "/auth/health", "api_health"),
    _route("GET", "/email_accounts", "/email_accounts", "api_email_accounts"),
    _route("POST", "/emailer_campaigns/search", "/emailer_campaigns/search", "api_sequences_search"),
    _route(
        "POST",
        "/emailer_campaigns/remove_or_stop_contact_ids",
        "/emailer_campaigns/remove_or_stop_contact_ids",
        "api_remove_or_stop_contact_ids",
    ),
    _route(
        "POST",
        _SEQUENCE_ID + "/add_contact_ids",
        "/emailer_campaigns/{sequence_id}/add_contact_ids",
        "api_add_contact_ids",
    ),
    _route(
        "POST", _SEQUENCE_ID + "/approve", "/emailer_campaigns/{sequence_id}/approve", "api_approve_sequence"
    ),
    _route("POST", _SEQUENCE_ID + "/abort", "/emailer_campaigns/{sequence_id}/abort", "api_abort_sequence"),
    _route(
        "POST", _SEQUENCE_ID + "/archive", "/emailer_campaigns/{sequence_id}/archive", "api_archive_sequence"
    ),
    _route("GET", "/emailer_messages/search", "/emailer_messages/search", "api_search_messages"),
    _route(
        "POST", "/emailer_campaigns/activity_feed", "/emailer_campaigns/activity_feed", "api_activity_feed"
    ),
    _route("GET", "/labels", "/labels", "api_list_labels"),
    _route("POST", "/labels", "/labels", "api_create_label"),
    _route(
        "POST",
        "/labels/add_entity_ids_to_label_names",
        "/labels/add_entity_ids_to_label_names",
        "api_add_to_labels",
    ),
    _route(
        "POST",
        "/labels/remove_entity_ids_from_label_names",
        "/labels/remove_entity_ids_from_label_names",
        "api_remove_from_labels",
    ),
    _route("GET", "/fields", "/fields", "api_list_fields"),
    _route("GET", "/typed_custom_fields", "/typed_custom_fields", "api_list_typed_custom_fields"),
    _route("POST", "/usage_stats/api_usage_stats", "/usage_stats/api_usage_stats", "api_usage_stats"),
    # Accounts (accounts.yml).
    _route("POST", "/accounts", "/accounts", "api_create_account"),
    _route("POST", "/accounts/search", "/accounts/search", "api_search_accounts"),
    _route("POST", "/accounts/bulk_create", "/accounts/bulk_create", "api_bulk_create_accounts"),
    _route("POST", "/accounts/bulk_update", "/accounts/bulk_update", "api_bulk_update_accounts"),
    _route("POST", "/accounts/update_owners", "/accounts/update_owners", "api_update_account_owners"),
    _route("GET", _ACCOUNT_PATH.format(name="id"), "/accounts/{id}", "api_view_account"),
    _route("PATCH", _ACCOUNT_PATH.format(name="account_id"), "/accounts/{account_id}", "api_update_account"),
    _route("GET", "/account_stages", "/account_stages", "api_list_account_stages"),
    # Deals (deals.yml). The reference lists deals with GET; Apollo's CLI sends POST, also served.
    _route("POST", "/opportunities", "/opportunities", "api_create_deal"),
    _route("GET POST", "/opportunities/search", "/opportunities/search", "api_list_deals"),
    _route("GET", _OPPORTUNITY_ID, "/opportunities/{opportunity_id}", "api_view_deal"),
    _route("PATCH", _OPPORTUNITY_ID, "/opportunities/{opportunity_id}", "api_update_deal"),
    _route("GET", "/opportunity_stages", "/opportunity_stages", "api_list_deal_stages"),
)


def match_route(method: str, path: str) -> tuple[Route, dict[str, str], bool] | None:
    """The route for a request, its path parameters and whether it used the legacy ``/v1`` prefix."""
    if path.startswith(API_PREFIX + "/"):
        rest, legacy = path[len(API_PREFIX) :], False
    elif path.startswith(LEGACY_PREFIX + "/"):
        rest, legacy = path[len(LEGACY_PREFIX) :], True
    else:
        return None
    rest = rest.rstrip("/")
    for route in ROUTES:
        if method in route.methods:
            found = route.pattern.match(rest)
            if found:
                return route, found.groupdict(), legacy
    return None


def encode_json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading server that knows its emulator and can close idle keep-alive connections on stop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: ApolloEmulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.connections_opened = 0
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
            self.connections_opened += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        # Connection threads otherwise keep serving pooled keep-alive sockets after the listener closes.
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-request is normal in fault tests; only real bugs are printed.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the connection alive, so a reused requests.Session stays on one socket.
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; without TCP_NODELAY, Nagle plus delayed ACKs add 40 ms per response.
    disable_nagle_algorithm = True
    server_version = "ApolloEmulator/1.0"
    sys_version = ""
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    # ----------------------------------------------------------------- request

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        emulator = self.server.emulator
        received = time.monotonic()
        raw_body = self._read_body()
        split = urlsplit(self.path)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        headers = {key.lower(): value for key, value in self.headers.items()}
        body: Any = None
        body_is_valid = True
        if raw_body.strip():
            try:
                body = json.loads(raw_body)
            except ValueError:
                body_is_valid = False
        record = RecordedRequest(
            self.command, path, query, headers, body, 0, received, target=self.path, raw_body=raw_body
        )
        emulator.record(record)

        matched = match_route(self.command, path)
        if matched is None:
            self._send(record, 404, encode_json({"error": "Not Found"}))
            return
        route, path_params, legacy = matched

        legacy_key = None
        if legacy:
            # Only the legacy API still reads the key from the body or the query.
            if isinstance(body, dict) and isinstance(body.get("api_key"), str):
                legacy_key = body["api_key"]
            elif query.get("api_key"):
                legacy_key = query["api_key"][0]
        if not emulator.authenticate(headers, legacy_key):
            self._send(record, 401, UNAUTHORIZED_BODY, content_type=TEXT_CONTENT_TYPE)
            return

        decision = emulator.rate_limiter.hit(f"{self.command} {route.template}", route.template)
        rate_headers = decision.headers
        if not decision.allowed:
            self._send(
                record,
                429,
                encode_json({"message": decision.message}),
                headers={**rate_headers, "retry-after": decision.retry_after or "1"},
            )
            return

        fault = emulator.take_fault(self.command, path)
        if fault is not None and self._apply_fault_before(record, fault, route, rate_headers):
            return

        if not body_is_valid:
            self._send(
                record, 400, encode_json({"error": "Invalid JSON in request body"}), headers=rate_headers
            )
            return
        api_request = EmulatedRequest(
            self.command, body if isinstance(body, dict) else {}, query, path_params
        )
        try:
            status, payload = getattr(emulator, route.handler)(api_request)
        except ApiError as error:
            status, payload = error.status, error.payload
        except Exception as error:  # noqa: BLE001 - an emulator bug must reach the client, not kill the thread
            traceback.print_exc()
            status, payload = 500, {"error": f"emulator internal error: {error!r}"}
        data = encode_json(payload)

        if fault is not None and fault.kind == "drop_after_apply":
            self._drop(record)
            return
        if fault is not None and fault.kind == "status_after_apply":
            # Applied, yet answered as a failure: the client cannot tell it from one that was not.
            self._send_status_fault(record, fault, route, rate_headers)
            return
        if fault is not None and fault.kind == "truncate":
            data = data[: max(len(data) // 2, 1)]
        self._send(record, status, data, headers=rate_headers)

    def _apply_fault_before(
        self, record: RecordedRequest, fault: Fault, route: Route, rate_headers: dict[str, str]
    ) -> bool:
        """Act on a fault that strikes before the request is applied; True when the request is answered."""
        if fault.kind == "drop":
            self._drop(record)
            return True
        if fault.kind == "delay":
            time.sleep(fault.delay or 0.0)
            return False
        if fault.kind == "non_json":
            portal = (
                b"<!DOCTYPE html><html><head><title>Apollo</title></head><body>Please wait...</body></html>"
            )
            self._send(record, 200, portal, content_type=HTML_CONTENT_TYPE, headers=rate_headers)
            return True
        if fault.kind == "status":
            self._send_status_fault(record, fault, route, rate_headers)
            return True
        return False

    def _send_status_fault(
        self, record: RecordedRequest, fault: Fault, route: Route, rate_headers: dict[str, str]
    ) -> None:
        """Answer with the fault's status, as Apollo (or the gateway in front of it) would."""
        status = fault.status or 500
        if status == 401:
            # Like a real 401: plain text and no rate-limit headers.
            self._send(record, 401, UNAUTHORIZED_BODY, content_type=TEXT_CONTENT_TYPE)
            return
        if status in GATEWAY_STATUSES:
            # Gateway pages come from the proxy in front of Apollo, so they carry no rate-limit headers.
            title = f"{status} {GATEWAY_STATUSES[status]}"
            page = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>"
            self._send(record, status, page.encode(), content_type=HTML_CONTENT_TYPE)
            return
        if status == 429:
            retry_after = fault.retry_after if fault.retry_after is not None else DEFAULT_FAULT_RETRY_AFTER
            limit = rate_headers.get("x-rate-limit-minute") or "200"
            message = (
                f"The maximum number of api calls allowed for {route.template} is {limit} times per minute. "
                "Please upgrade your plan from https://app.apollo.io/#/settings/plans/upgrade."
            )
            retry_text = str(int(retry_after)) if float(retry_after).is_integer() else f"{retry_after:.3f}"
            self._send(
                record,
                429,
                encode_json({"message": message}),
                headers={**rate_headers, "retry-after": retry_text},
            )
            return
        payload = STATUS_FAULT_BODIES.get(status, {"error": "An error occurred. Please try again."})
        self._send(record, status, encode_json(payload), headers=rate_headers)

    # ----------------------------------------------------------------- response

    def _drop(self, record: RecordedRequest) -> None:
        record.status = 0
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(
        self,
        record: RecordedRequest,
        status: int,
        data: bytes,
        *,
        content_type: str = JSON_CONTENT_TYPE,
        headers: dict[str, str] | None = None,
    ) -> None:
        latency = self.server.emulator.latency
        if latency > 0:
            time.sleep(latency)
        # Recorded before writing, so a client that has the response can already see the status.
        record.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
