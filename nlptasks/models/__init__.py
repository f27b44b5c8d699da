"""The code of packaged model kinds that are not plain transformers models: below both the task plugins
(which serve them) and training (which builds them); they import no task and nothing from training.

* ``extractive_supervised``: the supervised extractive summarizer (MiniLM sentence features + a small
  scorer; ``minilm-extsum``);
* ``qa_baseline``: the lexical-overlap QA baseline (no weights).

The retrieval chat model and the offline chat baselines still live in ``nlptasks/tasks/`` (chat_retrieval,
chat_offline) while other work edits them; they move here next.
"""
