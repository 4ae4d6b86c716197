"""The stdio shell: reads frames from stdin, dispatches them, writes frames to stdout.

Threads: the main thread reads stdin and answers ``hello`` (and every error about the
framing itself) at once; one intake thread parses large frames, validates and routes;
each configured account has a worker thread that runs that account's calls in order.
Notifications from any thread go through the same locked writer.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
from collections.abc import Callable

from ..errors import (
    FrameTooLarge,
    HostError,
    InternalError,
    InvalidParams,
    MethodNotFound,
    ParseError,
    ResultTooLarge,
    UnknownAccount,
)
from ..logsetup import LazyLogger
from ..methods import METHODS, hello_result
from . import jsonrpc
from .framing import (
    Frame,
    FrameDecoder,
    OutgoingTooLarge,
    OversizeFrame,
    TruncatedFrame,
    encode_frame,
)
from .workers import MAX_ACCOUNTS, PoolFull, WorkerPool

log = LazyLogger(__name__)

#: Budget from end of input (or SIGTERM) to exit: the contract says 2 s, Thunderbird kills at 3 s.
SHUTDOWN_GRACE_S = 1.5
#: The part of it kept for closing connections after in-flight calls had their time.
SHUTDOWN_CLOSE_S = 0.3
READ_CHUNK = 64 * 1024
#: Frames up to this size are parsed on the reader thread (to answer ``hello`` at once).
INLINE_PARSE_MAX = 64 * 1024


#: ``typing`` is not imported at run time on the way to ``hello`` (cold start); mypy
#: reads the imports below all the same.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Protocol

    class Backend(Protocol):
        def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]: ...
        def has_account(self, account: str) -> bool: ...
        def close(self) -> None: ...

    Notify = Callable[[str, dict[str, Any]], None]
    #: ``schedule(account, job)`` runs ``job`` on that account's worker, after what is queued.
    Schedule = Callable[[str, Callable[[], None]], None]
    BackendFactory = Callable[[Notify, Schedule], Backend]


class Terminated(Exception):
    """SIGTERM arrived: leave the read loop and shut down cleanly."""


class FrameWriter:
    """Serialises whole frames onto stdout from any thread."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        frame = self._encode(message)
        if frame is None:
            return
        with self._lock:
            if self.closed:
                return
            try:
                self._stream.write(frame)
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.closed = True
                log.info("stdout closed: the add-on is gone")

    @staticmethod
    def _encode(message: dict[str, Any]) -> bytes | None:
        """The frame for ``message``, or an error frame for its id; None drops it.

        Whatever the message, what comes out is strict JSON of at most 1 MiB.
        """
        error: HostError
        try:
            return encode_frame(jsonrpc.dump(message))
        except OutgoingTooLarge as exc:
            if "id" not in message:
                log.error(
                    "dropped a %d-byte notification %s: over the frame limit",
                    exc.size,
                    message.get("method"),
                )
                return None
            error = ResultTooLarge(
                f"the answer ({exc.size} bytes) exceeds the 1 MiB frame limit", size=exc.size
            )
        except (TypeError, ValueError):
            log.exception("cannot encode a message as JSON: %s", message.get("method"))
            if "id" not in message:
                return None
            error = InternalError("internal error: see the host's log")
        try:
            return encode_frame(jsonrpc.dump(jsonrpc.error_response(message["id"], error)))
        except OutgoingTooLarge:
            # Even the id is too large to echo: JSON-RPC's answer for an unreadable id.
            return encode_frame(jsonrpc.dump(jsonrpc.error_response(None, error)))


class Dispatcher:
    """Routes requests: validation, then inline or onto the account's worker.

    The reader thread only splits frames and answers ``hello``; parsing a large frame,
    validating params and routing run on one intake thread, in arrival order, so no
    frame can delay ``hello`` and each account's calls keep their order.
    """

    def __init__(
        self,
        backend_factory: BackendFactory,
        writer: FrameWriter,
    ) -> None:
        self._backend_factory = backend_factory
        self._backend: Backend | None = None
        self._backend_lock = threading.Lock()
        self._writer = writer
        self._workers = WorkerPool(self._known)
        self._intake: queue.SimpleQueue[Frame | jsonrpc.Request | None] = queue.SimpleQueue()
        self._intake_thread = threading.Thread(target=self._intake_loop, name="intake", daemon=True)
        self._intake_thread.start()

    def schedule(self, account: str, job: Callable[[], None]) -> None:
        try:
            self._workers.submit(account, job)
        except PoolFull as exc:
            log.error("background work for an account dropped: %s", exc)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._writer.send(jsonrpc.notification(method, params))

    def backend(self) -> Backend:
        with self._backend_lock:
            if self._backend is None:
                self._backend = self._backend_factory(self.notify, self.schedule)
            return self._backend

    def _known(self, account: str) -> bool:
        try:
            return self.backend().has_account(account)
        except HostError:
            raise
        except Exception as exc:
            from ..store import storage_failure

            failure = storage_failure(exc)  # e.g. a read-only data dir: no backend yet
            if failure is None:
                raise
            raise failure from exc

    def handle_frame(self, event: Frame | OversizeFrame | TruncatedFrame) -> None:
        """On the reader thread: errors about the input, ``hello``; the rest to intake."""
        if isinstance(event, OversizeFrame):
            self._reply_error(
                None,
                FrameTooLarge(
                    f"frame of {event.length} bytes refused: the limit is 16 MiB",
                    length=event.length,
                ),
            )
            return
        if isinstance(event, TruncatedFrame):
            log.warning("input ended inside a frame (%d bytes received)", event.received)
            self._reply_error(None, ParseError("input ended inside a frame", truncated=True))
            return
        if len(event.payload) > INLINE_PARSE_MAX:
            self._intake.put(event)  # parsing it could take long: off the reader
            return
        parsed = jsonrpc.parse_request(event.payload)
        if isinstance(parsed, jsonrpc.BadRequest):
            self._reply_error(parsed.id, parsed.error)
            return
        if parsed.method == "hello" and not parsed.params:
            # Fast path: answered without loading jsonschema, IMAP or crypto.
            if not parsed.is_notification:
                self._writer.send(jsonrpc.result_response(parsed.id, hello_result()))
            return
        self._intake.put(parsed)

    def _intake_loop(self) -> None:
        while (item := self._intake.get()) is not None:
            try:
                if isinstance(item, Frame):
                    parsed = jsonrpc.parse_request(item.payload)
                    if isinstance(parsed, jsonrpc.BadRequest):
                        self._reply_error(parsed.id, parsed.error)
                        continue
                    item = parsed
                self.handle_request(item)
            except Exception:  # one bad request must not end the intake, nor go unanswered
                log.exception("cannot route a request")
                if isinstance(item, jsonrpc.Request) and not item.is_notification:
                    self._reply_error(item.id, InternalError("internal error: see the host's log"))

    def handle_request(self, request: jsonrpc.Request) -> None:
        reply = not request.is_notification
        if request.method not in METHODS:
            if reply:
                self._reply_error(
                    request.id,
                    MethodNotFound(f"no method {request.method!r}", method=request.method),
                )
            return
        try:
            from .schemas import validate_params

            validate_params(request.method, request.params)
        except HostError as exc:
            if reply:
                self._reply_error(request.id, exc)
            return
        if request.method == "hello":
            if reply:
                self._writer.send(jsonrpc.result_response(request.id, hello_result()))
            return
        if not METHODS[request.method]:
            self._execute(request)
            return
        try:
            self._route(request)
        except HostError as exc:
            if reply:
                self._reply_error(request.id, exc)

    def _route(self, request: jsonrpc.Request) -> None:
        """Onto the account's worker; an unknown account gets no worker, only an answer."""
        account: str = request.params["account"]
        if not self._workers.has(account):
            if request.method != "account.configure" and not self._known(account):
                raise UnknownAccount(f"no account {account!r} is configured", account=account)
        try:
            self._workers.submit(account, lambda: self._execute(request))
        except PoolFull as exc:
            raise InvalidParams(
                f"account refused: {exc}", path="$.account", max_accounts=MAX_ACCOUNTS
            ) from exc

    def _execute(self, request: jsonrpc.Request) -> None:
        try:
            result = self.backend().call(request.method, request.params)
        except HostError as exc:
            log.info("%s failed: %s (%s)", request.method, exc.reason, exc.message)
            if not request.is_notification:
                self._reply_error(request.id, exc)
            return
        except Exception as exc:
            from ..store import storage_failure  # sqlite is the store's business

            error: HostError | None = storage_failure(exc)
            if error is not None:  # a full disk is no bug: one line, no traceback
                log.error("%s failed: %s", request.method, error.message)
            else:
                log.exception("internal error in %s", request.method)
                error = InternalError("internal error: see the host's log")
            if not request.is_notification:
                self._reply_error(request.id, error)
            return
        if not request.is_notification:
            self._writer.send(jsonrpc.result_response(request.id, result))

    def _reply_error(self, request_id: jsonrpc.RequestId, error: HostError) -> None:
        self._writer.send(jsonrpc.error_response(request_id, error))

    def shutdown(self, grace: float) -> None:
        """Let queued calls finish, then close connections; returns within ``grace`` seconds.

        Closing logs out of each server, which blocks as long as a read timeout when the
        network is gone: it runs on its own thread and is abandoned at the deadline.
        """
        import time

        deadline = time.monotonic() + grace
        calls_deadline = deadline - min(SHUTDOWN_CLOSE_S, grace / 2)
        self._intake.put(None)
        self._intake_thread.join(max(0.0, calls_deadline - time.monotonic()))
        for thread in self._workers.stop_all():
            thread.join(max(0.0, calls_deadline - time.monotonic()))
        with self._backend_lock:
            backend = self._backend
        if backend is None:
            return
        closer = threading.Thread(target=backend.close, name="shutdown-close", daemon=True)
        closer.start()
        closer.join(max(0.0, deadline - time.monotonic()))
        if closer.is_alive():
            log.warning("connections not closed within the shutdown deadline: abandoned")


def serve(
    backend_factory: BackendFactory,
    stdin_fd: int = 0,
    stdout: BinaryIO | None = None,
) -> int:
    """Run until end of input or SIGTERM; returns the process exit code."""
    writer = FrameWriter(stdout if stdout is not None else sys.stdout.buffer)
    dispatcher = Dispatcher(backend_factory, writer)
    decoder = FrameDecoder()

    def on_sigterm(_signum: int, _frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while True:
            chunk = os.read(stdin_fd, READ_CHUNK)
            for event in decoder.feed(chunk):
                dispatcher.handle_frame(event)
            if not chunk:
                log.info("end of input: shutting down")
                break
    except Terminated:
        log.info("SIGTERM: shutting down")
    except KeyboardInterrupt:
        log.info("interrupted: shutting down")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        dispatcher.shutdown(SHUTDOWN_GRACE_S)
        signal.signal(signal.SIGTERM, previous)
    return 0
