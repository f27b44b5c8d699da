"""The code of packaged model kinds that are not plain transformers models: below both the task plugins
(which serve them) and training (which builds them); they import no task and nothing from training.

* ``extractive_supervised``: the supervised extractive summarizer (MiniLM sentence features + a small
  scorer; ``minilm-extsum``);
* ``qa_baseline``: the lexical-overlap QA baseline (no weights);
* ``chat_retrieval``: the retrieval dialogue model (``minilm-retrieval`` and folders written by
  ``nlptasks finetune chat --retrieval``);
* ``chat_offline``: loads the offline chat models (the retrieval model and the baselines
  ``repeat-last-turn``, ``most-frequent-response``).
"""
