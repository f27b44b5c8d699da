"""Settings of one ``nlptasks serve`` process (plain data; no web framework imported here)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..errors import NlpTasksError

DEFAULT_TASKS = ("sentiment", "translate", "summarize", "qa", "chat")


@dataclass
class ServeConfig:
    """What the server serves and its limits. ``models``: task -> model name (default: the task's);
    ``model_kwargs``: the model settings every task gets (device, dtype, quantize, batch size, ...);
    ``task_options``: task -> server-level task options (e.g. ``{"translate": {"engine": "ctranslate2"}}``),
    the defaults a request's ``options`` are merged over."""

    tasks: tuple[str, ...] = DEFAULT_TASKS
    models: dict[str, str] = field(default_factory=dict)
    model_kwargs: dict = field(default_factory=dict)
    task_options: dict[str, dict] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None          # the Bearer token (read from --api-key-file), or None: no auth
    preload: bool = False               # load every model before accepting requests
    batching: bool = True               # merge concurrent requests of a task into one batch
    max_wait_ms: float = 5.0            # how long the first request of a batch waits for company
    max_batch_items: int = 64           # items per merged batch (the task's token budget then splits it)
    max_queue_items: int = 1024         # items waiting per task before new requests get 503
    max_items: int = 256                # items per request (413 above)
    max_body_bytes: int = 1 << 20       # request body size (413 above)
    timeout_s: float = 60.0             # per request, queueing included (504 above)
    drain_s: float = 30.0               # SIGTERM: how long in-flight requests may still finish
    max_variants: int = 8               # distinct option sets kept per task (models are shared)
    pad_multiple: int = 16              # forward batches padded to a multiple of this many tokens: few
                                        # distinct shapes, so memory stays flat (1: the longest item)
    grid_intensity: float | None = None
    country: str | None = None

    def check(self) -> None:
        """Refuse settings that cannot work together, before any model loads."""
        if not self.tasks:
            raise NlpTasksError("serve: no task to serve")
        for name, value in (("--port", self.port), ("--max-batch-items", self.max_batch_items),
                            ("--max-queue", self.max_queue_items), ("--max-items", self.max_items),
                            ("--max-body-bytes", self.max_body_bytes), ("--pad-multiple", self.pad_multiple)):
            if not isinstance(value, int) or value < (0 if name == "--port" else 1):
                raise NlpTasksError(f"serve: {name} must be a positive integer, got {value!r}")
        if self.port > 65535:
            raise NlpTasksError(f"serve: --port must be at most 65535, got {self.port}")
        if self.max_wait_ms < 0 or self.timeout_s <= 0 or self.drain_s < 0:
            raise NlpTasksError("serve: --max-wait-ms and --drain must be >= 0 and --timeout > 0")
        if self.max_items > self.max_queue_items:
            raise NlpTasksError(f"serve: --max-items ({self.max_items}) cannot exceed --max-queue "
                                f"({self.max_queue_items}): such a request could never be queued")
        if not is_loopback(self.host) and not self.api_key:
            raise NlpTasksError(f"serve: --host {self.host} is reachable from other machines; give "
                                f"--api-key-file FILE (a Bearer token every request must send) or bind "
                                f"to 127.0.0.1")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); any other name or address
    (``0.0.0.0``, a hostname, a LAN address) may be reachable from other machines."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
