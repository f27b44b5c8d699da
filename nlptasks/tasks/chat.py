"""Dialogue: ``{history: [turn, ...]}`` (oldest first, the last turn is the user's) -> ``{response}``.

Offline models (``nlptasks.models.chat_offline``): the packaged default ``minilm-retrieval`` (answers with the
DailyDialog train response whose context best matches; ``nlptasks.models.chat_retrieval``), a folder written by
``nlptasks finetune chat --model minilm --retrieval``, and the baselines ``repeat-last-turn`` and
``most-frequent-response``. They have no perplexity (``reference_nll`` refuses; ``eval`` leaves it out).

Models: decoder-only ``AutoModelForCausalLM`` (DialoGPT, instruction-tuned chat models) and seq2seq
dialogue models (BlenderBot; detected from ``config.is_encoder_decoder``). The prompt is built with the
tokenizer's chat template when it has one (roles alternate, the last turn is the user's, with the
generation prompt); otherwise turns are joined by the EOS token (DialoGPT's convention) or, for
seq2seq models, by two spaces (BlenderBot's). When the prompt exceeds the context budget the oldest
turns are dropped (``dropped_turns`` in the output); a last turn that alone is too long keeps its tail.

Decoding is greedy by default (deterministic); ``--do-sample`` with ``--temperature/--top-p/--top-k``
samples, reproducibly for a given ``--seed``. Plain-text input: each line is a one-turn conversation.
:meth:`ChatTask.reference_nll` scores gold responses (teacher-forced NLL) for perplexity.
"""
from __future__ import annotations

from ..errors import InputError, ModelLoadError, NlpTasksError
from ..optypes import fraction, non_negative_int, positive_float, positive_int
from .base import EmbeddedModel, Option, Task

MIN_CONTEXT = 8


class ChatTask(Task):
    name = "chat"
    aliases = ("dialogue", "dialog", "conversation")
    description = "Reply to a conversation (DialoGPT-style, chat-template or BlenderBot models)."
    input_fields = ("history",)
    field_kinds = {"history": "turns"}
    text_field = "history"
    text_mode = "lines"
    output_fields = ("response",)
    model_class = "AutoModelForCausalLM"
    default_model = "minilm-retrieval"
    embedded_models = (
        EmbeddedModel("minilm-retrieval", "retrieval over DailyDialog train responses with the packaged MiniLM "
                                          "encoder (offline; built by `nlptasks finetune chat --model minilm`)"),
        EmbeddedModel("repeat-last-turn", "baseline: answer with the last turn", baseline=True),
        EmbeddedModel("most-frequent-response", "baseline: always the most frequent DailyDialog train response",
                      baseline=True),
    )
    recommended_models = ("microsoft/DialoGPT-small", "microsoft/DialoGPT-medium", "facebook/blenderbot-400M-distill",
                          "HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct")
    options = (
        Option("--max-new-tokens", type=positive_int, default=40, help="longest response in tokens (default 40)"),
        Option("--do-sample", action="store_true", default=False,
               help="sample instead of greedy decoding (reproducible with --seed)"),
        Option("--temperature", type=positive_float, default=None, help="sampling temperature"),
        Option("--top-p", type=fraction, default=None, help="nucleus sampling: keep the top-p probability mass"),
        Option("--top-k", type=non_negative_int, default=None,
               help="sampling: keep the k most likely tokens (0: no top-k filter)"),
        Option("--repetition-penalty", type=positive_float, default=None, help="penalty > 1 discourages repeated tokens"),
        Option("--max-context-tokens", type=positive_int, default=None,
               help="prompt budget in tokens; the oldest turns are dropped beyond it "
                    "(default: the model's limit minus --max-new-tokens)"),
    )
    metrics = ("perplexity", "unigram_f1", "bleu4", "distinct")
    primary_metric = "unigram_f1"
    reference_column = "response"
    explainer = "nlptasks.explain.chat"

    GEN_KEYS = ("max_new_tokens", "do_sample", "temperature", "top_p", "top_k", "repetition_penalty")

    # -- loading ------------------------------------------------------------------------------------
    def _load(self) -> None:
        from ..models.chat_offline import load_offline

        # packaged retrieval model, baselines, or a folder built by `finetune chat --retrieval`
        self._offline = load_offline(self.model_name, device=self.device, dtype=self.dtype, quantize=self.quantize)
        if self._offline is not None:
            return
        from ..backend.loading import load_pretrained

        auto = "AutoModelForSeq2SeqLM" if self._is_encoder_decoder() else self.model_class
        self._serve(load_pretrained(self.model_name, auto, revision=self.revision, device=self.device,
                                    dtype=self.dtype, quantize=self.quantize, trust_remote_code=self.trust_remote_code))

    def _serve(self, lm) -> None:
        """Serve a generating model: one loaded by :meth:`_load`, or one in memory (``Task.serving``: the
        model being fine-tuned, a distillation teacher): prompt format, generation settings, context budget."""
        from ..backend.inference import generation_config, model_max_input

        self._offline = None
        self._lm = lm
        self.seq2seq = bool(getattr(lm.config, "is_encoder_decoder", False))
        tok = lm.tokenizer
        if tok.pad_token_id is None:
            if tok.eos_token is None:
                raise ModelLoadError(f"model {self.model_name!r}: its tokenizer has neither a pad nor an EOS token")
            tok.pad_token = tok.eos_token
        self.template = bool(getattr(tok, "chat_template", None))
        if not self.template and not self.seq2seq and tok.eos_token_id is None:
            raise ModelLoadError(f"model {self.model_name!r} has no chat template and no EOS token to separate turns")
        s = self.settings
        self.gen_config = generation_config(lm.model, {k: s[k] for k in self.GEN_KEYS})
        if self.gen_config.pad_token_id is None:
            self.gen_config.pad_token_id = tok.pad_token_id
        self.limit = model_max_input(lm)
        default = self.limit if self.seq2seq else self.limit - (self.gen_config.max_new_tokens or 0)
        self.context_budget = min(s["max_context_tokens"] or default, default)
        if self.context_budget < MIN_CONTEXT:
            raise NlpTasksError(f"model {self.model_name!r} takes {self.limit} tokens: too few for a prompt plus "
                                f"{self.gen_config.max_new_tokens} new tokens; lower --max-new-tokens")

    def _is_encoder_decoder(self) -> bool:
        from ..backend.loading import load_config
        from ..backend.resolve import resolve_model

        source = resolve_model(self.model_name, self.revision)
        cfg = load_config(source.path, trust_remote_code=self.trust_remote_code, ref=self.model_name,
                          revision=source.revision, local_files_only=source.local_files_only)
        return bool(getattr(cfg, "is_encoder_decoder", False))

    def model_info(self) -> dict:
        self.load()
        if self._offline is not None:
            return self._offline.describe()
        return self._lm.describe()

    @property
    def scores_references(self) -> bool:
        """Whether the model gives references a likelihood (perplexity); retrieval and baselines do not."""
        self.load()
        return self._offline is None

    def run_settings(self) -> dict:
        s = super().run_settings()
        if self._loaded and self._offline is not None:
            s["retrieval"] = self._offline.settings()
        elif self._loaded:
            s["prompt"] = "chat-template" if self.template else "blenderbot" if self.seq2seq else "eos-joined"
            s["generation"] = {k: v for k, v in self.gen_config.to_diff_dict().items()
                               if not k.startswith("transformers_version")}
        return s

    # -- input ----------------------------------------------------------------------------------------
    def validate(self, records: list[dict], source: str | None = None, **kwargs) -> None:
        kwargs["allow_empty"] = False
        super().validate(records, source, **kwargs)

    @staticmethod
    def turns(rec: dict) -> list[str]:
        """The conversation of a record: a list of strings (a plain string is a one-turn conversation)."""
        h = rec["history"]
        where = f"line {rec.get('__line__', '?')}"
        if isinstance(h, str):
            h = [h]
        if not isinstance(h, list):
            raise InputError(f"{where}: field 'history' must be a list of turns (strings), got {type(h).__name__}")
        bad = next((i for i, t in enumerate(h) if not isinstance(t, str)), None)
        if bad is not None:
            raise InputError(f"{where}: turn {bad + 1} of 'history' is {type(h[bad]).__name__}, not a string")
        if not any(t.strip() for t in h):
            raise InputError(f"{where}: field 'history' has no non-empty turn")
        return h

    # -- prompts ----------------------------------------------------------------------------------------
    @staticmethod
    def roles(n: int) -> list[str]:
        """Roles of ``n`` turns, counted back from the last one, which is the user's."""
        return ["user" if (n - 1 - i) % 2 == 0 else "assistant" for i in range(n)]

    @classmethod
    def render_template(cls, tok, messages: list[dict], generation_prompt: bool, model_name: str = "model") -> str:
        """``messages`` through the tokenizer's chat template, as text."""
        try:
            return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
        except Exception as exc:  # jinja2 errors raised by the template itself (e.g. role order rules)
            if messages and messages[0]["role"] == "assistant":  # templates that must start with the user
                return cls.render_template(tok, messages[1:], generation_prompt, model_name)
            raise NlpTasksError(f"model {model_name!r}: its chat template failed: "
                                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
                                ) from exc

    def encode(self, turns: list[str]) -> list[int]:
        """Prompt token ids for a conversation, as fed to the model (no budget applied)."""
        return self.prompt_ids(self._lm.tokenizer, turns, seq2seq=self.seq2seq, model_name=self.model_name)

    @classmethod
    def prompt_ids(cls, tok, turns: list[str], *, seq2seq: bool = False, model_name: str = "model") -> list[int]:
        """Prompt token ids for a conversation with tokenizer ``tok``: the one function that builds
        prompts, for ``run``/``eval`` and for fine-tuning (``training.families.CausalChat``)."""
        if getattr(tok, "chat_template", None):
            messages = [{"role": r, "content": t} for r, t in zip(cls.roles(len(turns)), turns)]
            return tok(cls.render_template(tok, messages, True, model_name), add_special_tokens=False)["input_ids"]
        if seq2seq:  # BlenderBot: user turns start with a space, turns joined by two spaces
            text = "  ".join((" " + t) if r == "user" else t for r, t in zip(cls.roles(len(turns)), turns))
            return tok(text)["input_ids"]
        ids: list[int] = []
        for t in turns:
            ids += tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        return ids

    def fit(self, turns: list[str], budget: int | None = None) -> tuple[list[int], int, int]:
        """The prompt for the most recent turns that fit ``budget`` tokens (default the context budget):
        :meth:`fit_prompt` with this model's tokenizer."""
        return self.fit_prompt(self._lm.tokenizer, turns, budget or self.context_budget, seq2seq=self.seq2seq,
                               model_name=self.model_name)

    @classmethod
    def fit_prompt(cls, tok, turns: list[str], budget: int, *, seq2seq: bool = False,
                   model_name: str = "model") -> tuple[list[int], int, int]:
        """The one history-truncation rule, for ``run``/``eval`` and for fine-tuning (training features,
        validation prompts, teacher prompts): the prompt (:meth:`prompt_ids`) for the most recent turns
        that fit ``budget`` tokens, as ``(ids, dropped turns, tokens cut from the start of the last turn)``.
        Whole turns are dropped, oldest first; the last turn is always kept, and one that alone is too long
        keeps its tail."""
        def encode(ts: list[str]) -> list[int]:
            return cls.prompt_ids(tok, ts, seq2seq=seq2seq, model_name=model_name)

        ids = encode(turns)
        if len(ids) <= budget:
            return ids, 0, 0
        lo, hi = 1, len(turns) - 1  # find the fewest dropped turns that fit (length shrinks as k grows)
        best = None
        while lo <= hi:
            mid = (lo + hi) // 2
            cand = encode(turns[mid:])
            if len(cand) <= budget:
                best, hi = (cand, mid), mid - 1
            else:
                lo = mid + 1
        if best is not None:
            return best[0], best[1], 0
        # the last turn alone is too long: keep its tail
        last = tok(turns[-1], add_special_tokens=False)["input_ids"]
        keep = budget - len(encode([""]))
        while keep > 0:
            ids = encode([tok.decode(last[-keep:], skip_special_tokens=True)])
            if len(ids) <= budget:
                return ids, len(turns) - 1, len(last) - keep
            keep -= max(1, len(ids) - budget)
        raise NlpTasksError(f"a context budget of {budget} tokens leaves no room for the last turn; "
                            f"raise --max-context-tokens or lower --max-new-tokens")

    # -- prediction -------------------------------------------------------------------------------------
    def _predict(self, records: list[dict]) -> list[dict]:
        if self._offline is not None:
            return self._offline.respond([self.turns(r) for r in records], batch_size=self.batch_size)
        import torch

        from ..backend.inference import generate_batched

        fitted = [self.fit(self.turns(r)) for r in records]
        items = [{"input_ids": ids, "attention_mask": [1] * len(ids)} for ids, _, _ in fitted]
        if self.gen_config.do_sample:
            torch.manual_seed(self.seed)
        out = generate_batched(self._lm, items, self.gen_config, decoder_only=not self.seq2seq,
                               batch_size=self.batch_size, max_tokens=self.max_tokens, desc="chat")
        tok = self._lm.tokenizer
        results = []
        for ids, (_, dropped, cut) in zip(out, fitted):
            rec = {"response": tok.decode(ids, skip_special_tokens=True).strip(), "dropped_turns": dropped}
            if cut:
                rec["cut_tokens"] = cut
            results.append(rec)
        return results

    # -- scoring ------------------------------------------------------------------------------------------
    def _target_ids(self, turns: list[str], reference: str) -> list[int]:
        """The reference response as the model would emit it after ``turns`` (end-of-turn token included)."""
        return self.target_ids(self._lm.tokenizer, turns, reference, seq2seq=self.seq2seq, model_name=self.model_name)

    @classmethod
    def target_ids(cls, tok, turns: list[str], reference: str, *, seq2seq: bool = False,
                   model_name: str = "model") -> list[int]:
        """The ids of ``reference`` as the model would emit it after the prompt of ``turns`` (scoring and
        fine-tuning targets)."""
        if seq2seq:
            return tok(text_target=reference)["input_ids"]
        if getattr(tok, "chat_template", None):
            msgs = [{"role": r, "content": t} for r, t in zip(cls.roles(len(turns)), turns)]
            prompt = cls.render_template(tok, msgs, True, model_name)
            full = cls.render_template(tok, msgs + [{"role": "assistant", "content": reference}], False, model_name)
            if full.startswith(prompt) and len(full) > len(prompt):
                return tok(full[len(prompt):], add_special_tokens=False)["input_ids"]
        return tok(reference, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]

    training_family = "CausalChat"

    def reference_nll(self, records: list[dict], references: list[str]) -> list[dict]:
        """Teacher-forced negative log-likelihood (sum over the response tokens, in nats) of each gold
        ``reference`` given its record's history, prompt tokens masked out: ``[{"nll", "tokens"}]``."""
        from ..backend.inference import label_nll

        if len(records) != len(references):
            raise InputError(f"{len(records)} records but {len(references)} references")
        self.validate(records)
        if not records:
            return []
        self.load()
        if self._offline is not None:
            raise NlpTasksError(f"model {self.model_name!r} does not score references (no perplexity): "
                                f"it is a retrieval model or a baseline")
        items = []
        for rec, ref in zip(records, references):
            turns = self.turns(rec)
            target = self._target_ids(turns, str(ref))
            if self.seq2seq:
                target = target[: self._decoder_limit()]
                ids, _, _ = self.fit(turns, self.limit)
                items.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": target})
            else:
                # the prompt gets what the response leaves, but at least half the window; a response
                # longer than the rest is scored on its first tokens
                ids, _, _ = self.fit(turns, min(self.context_budget, max(self.limit - len(target), self.limit // 2)))
                target = target[: self.limit - len(ids)]
                full = ids + target
                items.append({"input_ids": full, "attention_mask": [1] * len(full),
                              "labels": [-100] * len(ids) + target})
        scores = label_nll(self._lm, items, batch_size=self.batch_size, max_tokens=self.max_tokens, desc="chat nll")
        return [{"nll": nll, "tokens": n} for nll, n in scores]

    def _decoder_limit(self) -> int:
        cfg = self._lm.config
        for attr in ("max_target_positions", "max_position_embeddings", "n_positions"):
            v = getattr(cfg, attr, None)
            if isinstance(v, int) and v > 0:
                return v
        return self.limit
