"""Test-only monkeypatch for every process of a multi-process run (tests/test_distributed.py).

Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``, so putting this folder there reaches
the ranks that ``accelerate launch`` starts, where a pytest monkeypatch cannot. With
``$NLPTASKS_TEST_DIGESTS`` set, each rank writes a sha256 digest of its trained weights to
``$NLPTASKS_TEST_DIGESTS/rank<N>.sha256`` when the trainer publishes the model.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

DIGESTS_ENV = "NLPTASKS_TEST_DIGESTS"


def weights_digest(model) -> str:
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _install(folder: Path) -> None:
    from nlptasks.training import trainer as tr

    publish = tr._publish

    def digest_then_publish(r, trainer, *args, **kwargs):
        folder.mkdir(parents=True, exist_ok=True)
        model = trainer.accelerator.unwrap_model(trainer.model)
        (folder / f"rank{r.args.process_index}.sha256").write_text(weights_digest(model))
        return publish(r, trainer, *args, **kwargs)

    tr._publish = digest_then_publish


if os.environ.get(DIGESTS_ENV):
    _install(Path(os.environ[DIGESTS_ENV]))
