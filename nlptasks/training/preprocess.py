"""Per-task preprocessing: records (shared-data schema) -> model features, with input checks.

Every check runs over the whole dataset before training starts and reports *all* offending rows (the
first few by row number), so a bad file fails in seconds rather than mid-run.

The functions are the shared code of the model families in ``families.py``; field names are the
family's (defaults: the shared-data schema of the built-in tasks).

* classification: ``{text, label}``; labels are names or ids, mapped onto the model's ``label2id``.
* qa: ``{question, context, answers: {text: [...], answer_start: [...]}}``; start/end token labels from
  character answers, long contexts split into overlapping windows (``--doc-stride``); windows that do not
  contain the answer point at the first token (the "no answer" position).
* seq2seq: summarize ``{document, summary}``, translate ``{translation: {SRC: ..., TGT: ...}}``;
  targets tokenised with ``text_target``.
* causal (chat): ``{history: [...], response}``; the prompt is the task's (``ChatTask.prompt_ids``, the
  one ``nlptasks run chat`` sends) and is masked out of the loss (label -100); only the response (the
  task's ``target_ids``) and its end token are learned.
"""
from __future__ import annotations

from typing import Any

from ..errors import InputError, NlpTasksError

IGNORE = -100
SHOW_ROWS = 8


def _fail(name: str, problem: str, bad: list[tuple[Any, str]], hint: str = "") -> None:
    if not bad:
        return
    shown = "; ".join(f"row {r}: {why}" for r, why in bad[:SHOW_ROWS])
    more = f" (and {len(bad) - SHOW_ROWS} more)" if len(bad) > SHOW_ROWS else ""
    raise InputError(f"{name}: {len(bad)} row(s) {problem}: {shown}{more}{'; ' + hint if hint else ''}")


def require_fields(records: list[dict], fields: tuple[str, ...], name: str) -> None:
    from ..io import field_problem

    bad = []
    for r in records:
        problem = next((p for p in (field_problem(r, f, "any") for f in fields) if p), None)
        if problem:
            bad.append((r.get("__line__"), problem))
    _fail(name, "lack required fields", bad)


def _short(v: Any, n: int = 40) -> str:
    s = repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


# -- classification ---------------------------------------------------------------------------------
def infer_labels(splits: dict[str, list[dict]], names: list[str] | None,
                 binary_names: tuple[str, str] | None = None, *, label_field: str = "label") -> list[str]:
    """Label names for a new classification head, from ``--labels`` or from the data.

    String labels: sorted distinct values. Integer labels: must be 0..K-1; ids 0/1 are named
    ``binary_names`` when given (sentiment: ``negative``/``positive``, the SST-2 convention of the
    shared data), otherwise ``LABEL_i``.
    """
    if names:
        return list(names)
    raw = [r[label_field] for recs in splits.values() for r in recs]
    if all(isinstance(v, str) and not v.strip().lstrip("-").isdigit() for v in raw):
        return sorted(set(raw))
    ints = set()
    bad = []
    for recs in splits.values():
        for r in recs:
            v = r[label_field]
            try:
                ints.add(_as_int(v))
            except ValueError:
                bad.append((r.get("__line__"), f"label {_short(v)} mixes names and ids"))
    _fail("labels", "are neither all names nor all ids", bad, "give --labels NAME,NAME,... to name the ids")
    k = max(ints) + 1
    negative = sorted(i for i in ints if i < 0)
    if negative:
        raise InputError(f"labels: negative label ids {negative}; ids must be 0..K-1")
    if binary_names and ints <= {0, 1}:
        return list(binary_names)
    return [f"LABEL_{i}" for i in range(k)]


def _as_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    raise ValueError


def map_labels(records: list[dict], label2id: dict[str, int], name: str, label_field: str = "label") -> list[int]:
    """Map every record's label (a name, case-insensitive, or an id) onto the model's ids."""
    by_name = {k.lower(): v for k, v in label2id.items()}
    n = len(set(label2id.values()))
    ids, bad = [], []
    for r in records:
        v = r[label_field]
        if isinstance(v, str) and v.lower() in by_name:
            ids.append(by_name[v.lower()])
            continue
        try:
            i = _as_int(v)
        except ValueError:
            bad.append((r.get("__line__"), f"label {_short(v)}"))
            continue
        if 0 <= i < n:
            ids.append(i)
        else:
            bad.append((r.get("__line__"), f"label id {i}"))
    known = ", ".join(f"{k}={v}" for k, v in sorted(label2id.items(), key=lambda kv: kv[1]))
    _fail(name, "have labels that do not match the model", bad,
          f"the model's labels are {known} (use --new-head to train a new head on the data's labels)")
    return ids


def classification(records: list[dict], tokenizer, label2id: dict[str, int], *, max_length: int,
                   name: str = "data", text_field: str = "text", label_field: str = "label",
                   windows=None) -> list[dict]:
    """One feature per text, truncated at ``max_length``; or, with ``windows`` (the task's long-text rule,
    ``windows(tokenizer, texts, max_length) -> (windows, owner per window)``), one feature per window, each
    labelled with its text's label."""
    require_fields(records, (text_field, label_field), name)
    labels = map_labels(records, label2id, name, label_field)
    texts = [str(r[text_field]) for r in records]
    keep = ("input_ids", "attention_mask", "token_type_ids")
    if windows is not None:
        items, owners = windows(tokenizer, texts, max_length)
        return [{**{k: v for k, v in it.items() if k in keep}, "labels": labels[o]} for it, o in zip(items, owners)]
    enc = tokenizer(texts, truncation=True, max_length=max_length)
    keys = [k for k in enc.keys() if k in keep]
    return [{**{k: enc[k][i] for k in keys}, "labels": labels[i]} for i in range(len(records))]


# -- extractive QA -----------------------------------------------------------------------------------
def check_answers(records: list[dict], name: str) -> None:
    """Each answer must sit in its context at ``answer_start`` (or, without a start, anywhere in it)."""
    require_fields(records, ("question", "context", "answers"), name)
    bad = []
    for r in records:
        ans, ctx = r["answers"], str(r["context"])
        if not isinstance(ans, dict) or not isinstance(ans.get("text"), list):
            bad.append((r.get("__line__"), "answers must be {text: [...], answer_start: [...]}"))
            continue
        starts = ans.get("answer_start")
        for j, text in enumerate(ans["text"]):
            s = starts[j] if isinstance(starts, list) and j < len(starts) else None
            if s is None:
                if str(text) not in ctx:
                    bad.append((r.get("__line__"), f"answer {_short(text)} is not in the context"))
            elif not isinstance(s, int) or ctx[s:s + len(str(text))] != str(text):
                found = ctx.find(str(text))
                where = f"found at {found}" if found >= 0 else "not in the context"
                bad.append((r.get("__line__"), f"answer {_short(text)} not at answer_start {s} ({where})"))
    _fail(name, "have answers that do not match their contexts", bad)


def _first_answer(r: dict) -> tuple[int, str] | None:
    ans = r["answers"]
    if not ans["text"]:
        return None  # unanswerable (SQuAD v2 style)
    text = str(ans["text"][0])
    starts = ans.get("answer_start")
    s = starts[0] if isinstance(starts, list) and starts else str(r["context"]).find(text)
    return s, text


def qa(records: list[dict], tokenizer, *, max_length: int, stride: int, name: str = "data",
       keep_offsets: bool = False) -> tuple[list[dict], list[dict]]:
    """Windowed QA features with start/end positions. Returns ``(features, meta)``; with ``keep_offsets``,
    ``meta[i]`` holds the example index and the per-token context offsets (None outside the context) of
    feature ``i`` (validation answers through ``QATask`` itself, which makes the same windows)."""
    from ..tasks.qa_postprocess import window_stride

    check_answers(records, name)
    pad_right = tokenizer.padding_side == "right"
    qs = [str(r["question"]).strip() for r in records]  # as QATask._encode
    cs = [str(r["context"]) for r in records]
    # the windows of a record overlap as in `nlptasks run qa` (QATask._encode): --doc-stride, or half the
    # room its question leaves when the stride does not fit; records are tokenized in groups of one stride
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    q_lens = [len(x) for x in tokenizer(qs, add_special_tokens=False)["input_ids"]]
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(q_lens):
        room = max_length - specials - n
        if room < 1:
            raise InputError(f"{name}: row {records[i].get('__line__', i + 1)}: the question is {n} tokens: it "
                             f"leaves no room for the context in a {max_length}-token window (raise --max-length)")
        groups.setdefault(window_stride(stride, room), []).append(i)
    ctx_seq = 1 if pad_right else 0
    features, meta = [], []
    for group_stride, idx in sorted(groups.items()):
        gq, gc = [qs[i] for i in idx], [cs[i] for i in idx]
        enc = tokenizer(gq if pad_right else gc, gc if pad_right else gq,
                        truncation="only_second" if pad_right else "only_first", max_length=max_length,
                        stride=group_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
        keys = [k for k in enc.keys() if k in ("input_ids", "attention_mask", "token_type_ids")]
        for i, owner in enumerate(enc["overflow_to_sample_mapping"]):
            ex = idx[owner]
            seq_ids = enc.sequence_ids(i)
            offsets = enc["offset_mapping"][i]
            ids = enc["input_ids"][i]
            cls = ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in ids else 0
            ctx_tokens = [t for t, s in enumerate(seq_ids) if s == ctx_seq]
            start_pos = end_pos = cls
            answer = _first_answer(records[ex])
            if answer is not None and ctx_tokens:
                a0, text = answer
                a1 = a0 + len(text)
                first, last = ctx_tokens[0], ctx_tokens[-1]
                if offsets[first][0] <= a0 and offsets[last][1] >= a1:
                    s = first
                    while s <= last and offsets[s][1] <= a0:
                        s += 1
                    e = last
                    while e >= first and offsets[e][0] >= a1:
                        e -= 1
                    start_pos, end_pos = s, e
            features.append({**{k: enc[k][i] for k in keys}, "start_positions": start_pos,
                             "end_positions": end_pos})
            if keep_offsets:
                meta.append({"example": ex, "null": cls, "offsets": [tuple(o) if s == ctx_seq else None
                                                                      for o, s in zip(offsets, seq_ids)]})
    return features, meta


# -- seq2seq -----------------------------------------------------------------------------------------
def translation_pairs(records: list[dict], name: str, source_lang: str | None = None,
                      target_lang: str | None = None) -> tuple[list[str], list[str]]:
    """(sources, targets) of a translation dataset: ``{translation: {SRC, TGT}}`` or ``{text, target}``."""
    if all("translation" in r for r in records):
        bad = []
        for r in records:
            t = r["translation"]
            if not isinstance(t, dict) or source_lang not in t or target_lang not in t:
                have = ", ".join(t) if isinstance(t, dict) else type(t).__name__
                bad.append((r.get("__line__"), f"translation lacks {source_lang!r} or {target_lang!r} (has {have})"))
        _fail(name, "are not translation pairs", bad, "choose the pair with --source-lang/--target-lang")
        return [str(r["translation"][source_lang]) for r in records], \
            [str(r["translation"][target_lang]) for r in records]
    require_fields(records, ("text", "target"), name)
    return [str(r["text"]) for r in records], [str(r["target"]) for r in records]


def translation_langs(records: list[dict], source_lang: str | None, target_lang: str | None) -> tuple[str, str]:
    """The language pair: as given, or the two keys of the first ``translation`` dict (en first)."""
    if source_lang and target_lang:
        return source_lang, target_lang
    first = next((r["translation"] for r in records if isinstance(r.get("translation"), dict)), None)
    if not first:
        return source_lang or "source", target_lang or "target"
    keys = list(first)
    if len(keys) != 2 and not (source_lang or target_lang):
        raise InputError(f"translation pairs have {len(keys)} languages ({', '.join(keys)}); "
                         f"choose them with --source-lang and --target-lang")
    src = source_lang or ("en" if "en" in keys and target_lang != "en" else
                          next(k for k in keys if k != target_lang))
    tgt = target_lang or next(k for k in keys if k != src)
    return src, tgt


def seq2seq(sources: list[str], targets: list[str], tokenizer, *, prefix: str, max_source: int,
            max_target: int) -> list[dict]:
    enc = tokenizer([prefix + s for s in sources], text_target=targets, max_length=max_source, truncation=True)
    if max_target != max_source:
        enc["labels"] = tokenizer(text_target=targets, max_length=max_target, truncation=True)["input_ids"]
    keys = [k for k in enc.keys() if k in ("input_ids", "attention_mask", "labels")]
    return [{k: enc[k][i] for k in keys} for i in range(len(sources))]


class DecoderInputs:
    """Passed as ``model`` to ``DataCollatorForSeq2Seq``: adds ``decoder_input_ids`` (the labels shifted
    right after the decoder start token). Needed with ``--label-smoothing``, where Trainer takes the labels
    out of the batch to smooth the loss itself and the model then no longer derives them."""

    def __init__(self, config):
        self.start = config.decoder_start_token_id
        self.pad = config.pad_token_id
        if self.start is None:
            self.start = self.pad

    def prepare_decoder_input_ids_from_labels(self, labels):
        out = labels.new_full(labels.shape, self.pad)
        out[:, 1:] = labels[:, :-1]
        out[:, 0] = self.start
        return out.masked_fill(out == IGNORE, self.pad)


# -- chat (causal LM) --------------------------------------------------------------------------------
def _chat_task():
    from ..tasks.chat import ChatTask

    return ChatTask


def chat_messages(history: list[str]) -> list[dict]:
    """History turns, oldest first, as alternating roles ending with the user's turn."""
    return [{"role": r, "content": str(t)} for r, t in zip(_chat_task().roles(len(history)), history)]


def chat_prompt_ids(tokenizer, history: list[str]) -> list[int]:
    """Token ids of the prompt for ``history``: the chat task's own (``ChatTask.prompt_ids``)."""
    return _chat_task().prompt_ids(tokenizer, [str(t) for t in history])


def turns(record: dict, field: str = "history") -> list[str]:
    h = record[field]
    return [str(t) for t in ([h] if isinstance(h, str) else h)]


def check_chat(records: list[dict], name: str, history_field: str = "history",
               response_field: str = "response") -> None:
    require_fields(records, (history_field, response_field), name)
    bad = [(r.get("__line__"), f"{history_field} must be a non-empty list of turns") for r in records
           if not isinstance(r[history_field], list) or not r[history_field]]
    _fail(name, "are not dialogue examples", bad)


def chat(records: list[dict], tokenizer, *, max_length: int, max_response: int, name: str = "data",
         with_labels: bool = True, task=None, history_field: str = "history",
         response_field: str = "response") -> list[dict]:
    """Prompt + response + end token; labels = -100 over the prompt. The prompt and the response ids are
    the task's (``task.prompt_ids``/``task.target_ids``, default the chat task's), so training sees what
    ``nlptasks run`` sends. Long responses are cut to ``max_response`` tokens; a long history is cut by the
    task's own rule (``task.fit_prompt``, as ``run`` does: whole turns dropped oldest first, the last turn
    kept) into the room the response leaves in ``max_length``."""
    task = task or _chat_task()
    check_chat(records, name, history_field, response_field)
    eos = tokenizer.eos_token_id
    feats = []
    for r in records:
        history = turns(r, history_field)
        prompt = task.prompt_ids(tokenizer, history)
        resp = task.target_ids(tokenizer, history, str(r[response_field]).strip())
        if eos is not None and resp[-1:] == [eos]:
            resp = resp[:-1]
        resp = resp[:max_response] + ([eos] if eos is not None else [])  # the model learns to stop
        room = max_length - len(resp)
        if room < 1:
            raise InputError(f"--max-length {max_length} leaves no room for the prompt")
        if len(prompt) > room:
            try:
                prompt, _, _ = task.fit_prompt(tokenizer, history, room)
            except NlpTasksError as exc:
                raise InputError(f"{name}: row {r.get('__line__', '?')}: --max-length {max_length} leaves {room} "
                                 f"tokens for the prompt after the response: too few for its last turn (raise "
                                 f"--max-length or lower --max-target-length)") from exc
        ids = prompt + resp
        f = {"input_ids": ids, "attention_mask": [1] * len(ids)}
        if with_labels:
            f["labels"] = [IGNORE] * len(prompt) + resp
        feats.append(f)
    return feats
