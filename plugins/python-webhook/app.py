"""POSTs every notification as JSON to `url`, with an `Idempotency-Key` header carrying
the notification id, so a receiver can drop the duplicates a retry may cause.

The Python twin of plugins/webhook: same settings, same body, same outcomes. It talks to
the host only through the bindings componentize-py generates from
wit/v0.2.0/notifier.wit (emu-oncall:notifier@0.2.0). A webhook has no provider to call
back, so `handle_inbound` answers 404: the shape a two-way plugin fills in.
"""

import json
from typing import List, Tuple

import wit_world
from componentize_py_types import Err, Ok
from wit_world.imports import log, outgoing_handler, streams
from wit_world.imports import wasi_http_types as http
from wit_world.imports.emu_oncall_notifier_types import (
    Channel,
    Failure_Permanent,
    Failure_Retryable,
    InboundReply,
    InboundRequest,
    Notification,
    Outcome,
    PluginInfo,
    Receipt,
)

Config = List[Tuple[str, str]]

# Extra headers come from `header.<Name> = "value"` settings.
HEADER_PREFIX = "header."
# `blocking-write-and-flush` accepts at most 4096 bytes per call.
WRITE_CHUNK = 4096
# Only the status and a snippet for the logs matter; don't buffer a huge reply.
MAX_RESPONSE_BYTES = 1024 * 1024


def setting(config: Config, key: str) -> str:
    """The value of `key`, blank when unset (as the Rust SDK treats it)."""
    for name, value in config:
        if name == key:
            return value.strip()
    return ""


def url_of(config: Config) -> str:
    url = setting(config, "url")
    if not url:
        raise ValueError("`url` is required")
    if not url.startswith(("http://", "https://")):
        raise ValueError("`url` must start with http:// or https://")
    return url


def timeout_secs(config: Config) -> int:
    text = setting(config, "timeout_secs") or "10"
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 120:
        return int(text)
    raise ValueError(f"`timeout_secs` must be 1 to 120, not \"{text}\"")


def body(n: Notification) -> bytes:
    r = n.recipient
    group = n.alert_group
    value = {
        "id": n.id,
        "channel": n.channel.name.lower(),
        "message": n.message,
        "recipient": {
            "id": r.id,
            "email": r.email,
            "username": r.username,
            "name": r.name,
            "phone_number": r.phone_number,
            "role": r.role,
            "attributes": dict(r.attributes),
        },
        "alert_group": None
        if group is None
        else {
            "id": group.id,
            "number": group.number,
            "title": group.title,
            "state": group.state,
            "integration": group.integration,
            "permalink": group.permalink,
            "labels": dict(group.labels),
            "started_at": group.started_at,
        },
        "attempt": n.attempt,
        "created_at": n.created_at,
    }
    # Sorted and compact, like serde_json, so both webhooks send the same bytes.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Retryable(Exception):
    pass


class Permanent(Exception):
    pass


def error_code(code: http.ErrorCode) -> Exception:
    if isinstance(code, http.ErrorCode_HttpRequestDenied):
        return Permanent("request denied by the host: the host is not in this plugin's allowed_hosts")
    name = repr(code).removeprefix("ErrorCode_").removesuffix("()")
    return Retryable(f"HTTP request failed: {name}")


def post(url: str, headers: List[Tuple[str, str]], payload: bytes, timeout: int) -> Tuple[int, bytes]:
    """One POST over wasi:http; raises Retryable or Permanent."""
    scheme, rest = (http.Scheme_Https(), url[8:]) if url.startswith("https://") else (http.Scheme_Http(), url[7:])
    cut = min([i for i in (rest.find("/"), rest.find("?")) if i >= 0], default=len(rest))
    authority, path = rest[:cut], rest[cut:] or "/"
    if not authority:
        raise Permanent(f"bad URL: {url!r} has no host")

    try:
        # A declared length spares receivers a chunked body.
        declared = headers + [("Content-Length", str(len(payload)))]
        fields = http.Fields.from_list([(name, value.encode()) for name, value in declared])
    except Err as err:
        raise Permanent(f"bad URL: bad header: {err.value}")
    request = http.OutgoingRequest(fields)
    try:
        request.set_method(http.Method_Post())
        request.set_scheme(scheme)
        request.set_authority(authority)
        request.set_path_with_query(path)
    except Err:
        raise Permanent(f"bad URL: {url!r} refused")
    outgoing = request.body()

    options = http.RequestOptions()
    nanos = timeout * 1_000_000_000
    # Hosts may not support every timeout; what they refuse simply stays unset.
    for set_timeout in (options.set_connect_timeout, options.set_first_byte_timeout, options.set_between_bytes_timeout):
        try:
            set_timeout(nanos)
        except Err:
            pass

    try:
        future = outgoing_handler.handle(request, options)
    except Err as err:
        raise error_code(err.value)

    # A refused request closes the body stream; the response future then says why,
    # which is the error worth reporting, so a write error waits until after it.
    write_error = None
    try:
        stream = outgoing.write()
    except Err:
        write_error = "request body stream unavailable"
    else:
        # The stream is a child of the body: it must be dropped before `finish`.
        with stream:
            for start in range(0, len(payload), WRITE_CHUNK):
                try:
                    stream.blocking_write_and_flush(payload[start : start + WRITE_CHUNK])
                except Err as err:
                    write_error = f"writing the body: {stream_error(err.value)}"
                    break
    try:
        http.OutgoingBody.finish(outgoing, None)
        finish_error = None
    except Err as err:
        finish_error = err.value

    with future.subscribe() as pollable:
        pollable.block()
    outer = future.get()
    # None (not ready) cannot follow `block`; Err means the response was already taken.
    if not isinstance(outer, Ok):
        raise Retryable("HTTP request failed: no response")
    if isinstance(outer.value, Err):
        raise error_code(outer.value.value)
    response = outer.value.value
    if write_error:
        raise Retryable(f"HTTP request failed: {write_error}")
    if finish_error is not None:
        raise error_code(finish_error)
    return read_response(response)


def read_response(response: http.IncomingResponse) -> Tuple[int, bytes]:
    status = response.status()
    incoming = response.consume()
    data = bytearray()
    # The input stream is a child of the body: drop it before `finish`.
    with incoming.stream() as stream:
        while len(data) < MAX_RESPONSE_BYTES:
            try:
                data += stream.blocking_read(64 * 1024)
            except Err as err:
                if isinstance(err.value, streams.StreamError_Closed):
                    break
                raise Retryable(f"HTTP request failed: reading the response: {stream_error(err.value)}")
    http.IncomingBody.finish(incoming)
    return status, bytes(data[:MAX_RESPONSE_BYTES])


def stream_error(err: streams.StreamError) -> str:
    if isinstance(err, streams.StreamError_LastOperationFailed):
        return err.value.to_debug_string()
    return "stream closed"


class WitWorld(wit_world.WitWorld):
    def describe(self) -> PluginInfo:
        return PluginInfo(
            name="python-webhook",
            version="0.1.0",
            channels=[Channel.SMS, Channel.CALL, Channel.PUSH, Channel.SHIFT, Channel.TEST],
        )

    def validate_config(self, config: Config) -> None:
        try:
            url_of(config)
            timeout_secs(config)
        except ValueError as err:
            raise Err(str(err))

    def notify(self, config: Config, notification: Notification) -> Receipt:
        try:
            url, timeout = url_of(config), timeout_secs(config)
        except ValueError as err:
            raise Err(Failure_Permanent(str(err)))
        headers = [
            ("Content-Type", "application/json"),
            ("Idempotency-Key", notification.id),
        ] + [(name[len(HEADER_PREFIX) :], value) for name, value in config if name.startswith(HEADER_PREFIX)]
        try:
            status, reply = post(url, headers, body(notification), timeout)
        except Retryable as err:
            raise Err(Failure_Retryable(str(err)))
        except Permanent as err:
            raise Err(Failure_Permanent(str(err)))

        log.log(log.Level.DEBUG, f"notification {notification.id}: HTTP {status}")
        if 200 <= status <= 299:
            return Receipt(provider_id=None, detail=f"HTTP {status}")
        detail = f"HTTP {status}: {reply.decode(errors='replace')[:300].strip()}"
        if status in (408, 425, 429) or 500 <= status <= 599:
            raise Err(Failure_Retryable(detail))
        raise Err(Failure_Permanent(detail))

    def handle_inbound(
        self, config: Config, request: InboundRequest, outcomes: List[Outcome]
    ) -> InboundReply:
        # A plugin whose provider calls back checks the provider's signature here,
        # reads `request.body`, and names events; see plugins/README.md.
        return InboundReply(
            status=404,
            headers=[("content-type", "text/plain")],
            body=b"this plugin takes no calls",
            events=[],
        )
