"""Reading YAML that someone else wrote (benchmark definitions, suites) with bounded time and memory.

``yaml.safe_load`` runs no code, but it is not bounded: an alias bomb ("billion laughs": nine lists of
nine aliases of the list before) is a few hundred bytes that becomes billions of items as soon as it is
walked, hashed or printed. :func:`load_yaml` refuses, before constructing anything,

* a text over :data:`MAX_BYTES`,
* a document whose node graph, with every alias counted at every place it is used, has over
  :data:`MAX_NODES` nodes,
* nesting deeper than Python's recursion limit allows,

each as one ``error`` line naming ``where``. A leaf module: PyYAML and the standard library only.
"""
from __future__ import annotations

MAX_BYTES = 1 << 20        # a benchmark or suite definition is a few KB; 1 MiB is generous
MAX_NODES = 100_000        # scalars + lists + mappings after expanding aliases


def load_yaml(text: str, where: str, error: type[Exception] = ValueError):
    """The parsed YAML of ``text`` (``None`` for an empty document), or ``error`` for a text that is too
    large, expands too much or nests too deeply. Syntax errors raise ``yaml.YAMLError`` as usual."""
    import yaml

    if len(text) > MAX_BYTES:
        raise error(f"{where}: the YAML is over {MAX_BYTES >> 20} MiB; a definition this large is not one")
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            size = _expanded_size(node)
            if size > MAX_NODES:
                raise error(f"{where}: the YAML expands to over {MAX_NODES:,} values through its aliases "
                            f"(&anchor/*alias); refused (an alias bomb?)")
            return loader.construct_document(node)
        except RecursionError:
            raise error(f"{where}: the YAML is nested too deeply") from None
    finally:
        loader.dispose()


def _expanded_size(root) -> int:
    """Nodes of the graph from ``root`` with shared (aliased) nodes counted once per use; stops counting
    once over :data:`MAX_NODES`. Memoised by node identity, so the work is linear in the distinct nodes."""
    import yaml

    memo: dict[int, int] = {}

    def size(node) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        memo[key] = MAX_NODES + 1  # a cycle (a node that contains itself) counts as too large
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > MAX_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_NODES:
                    break
        memo[key] = total
        return total

    return size(root)
