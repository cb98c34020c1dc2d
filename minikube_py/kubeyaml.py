"""YAML as Kubernetes reads it (the one loader: manifests, apply, static pods).

Timestamps stay strings (``creationTimestamp``), and a key given twice in one
mapping is an error rather than a silent overwrite.  A leaf module: it imports
only yaml, so the CLI's lean paths can load YAML without the typed model.
"""

from __future__ import annotations

from typing import Any

import yaml


class KubeYAMLLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable key: SafeLoader reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f'key "{key}" already set in map', key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


KubeYAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
