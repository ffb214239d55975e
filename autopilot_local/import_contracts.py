"""import-linter contract types that read the domain package's modules from one list.

`pyproject.toml` names every module of the package once, in `[tool.importlinter]`'s `layers` (top
layer first, the same strings as a `layers` contract's). The contracts here take their modules
from that list instead of keeping their own:

- `module_layers`: the layers contract over that list (import-linter's own `layers` contract).
- `layer_forbidden`: import-linter's own `forbidden` contract whose source modules are picked from
  that list, either `layers_of` (every module in the layers of the modules named) or `all_but`
  (every module in the list except those named).

So a new module is one line in one list, and each rule reaches it by its layer. `make imports`
runs lint-imports with the project root on PYTHONPATH so that `contract_types` can import this.
"""

from __future__ import annotations

import re
from typing import Any, cast

from grimp import ImportGraph
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck, InvalidContractOptions

LAYERS_OPTION = "layers"


def module_layers(session_options: dict[str, Any]) -> list[list[str]]:
    """The session's `layers`, top first: each layer's module names relative to the root package."""
    layers = session_options.get(LAYERS_OPTION)
    if not isinstance(layers, list) or not all(isinstance(layer, str) for layer in layers):
        raise InvalidContractOptions({LAYERS_OPTION: "[tool.importlinter] needs a list of layers (strings)."})
    return [[name.strip() for name in re.split(r"[|:]", layer)] for layer in layers]


def root_package(session_options: dict[str, Any]) -> str:
    roots = session_options.get("root_packages") or [session_options.get("root_package")]
    if len(roots) != 1 or not isinstance(roots[0], str):
        raise InvalidContractOptions({"root_packages": "The layers list needs exactly one root package."})
    return roots[0]


class ModuleLayersContract(Contract):
    """import-linter's `layers` contract over the session's `layers`, inside the root package."""

    def validate(self) -> None:
        options = {
            "layers": self.session_options.get(LAYERS_OPTION),
            "containers": [root_package(self.session_options)],
        }
        module_layers(self.session_options)
        self._inner = LayersContract(self.name, self.session_options, options)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        return self._inner.check(graph, verbose)

    def render_broken_contract(self, check: ContractCheck) -> None:
        self._inner.render_broken_contract(check)


class LayerForbiddenContract(Contract):
    """import-linter's `forbidden` contract whose source modules are picked from the session's `layers`."""

    layers_of = fields.ListField(subfield=fields.StringField(), required=False)
    all_but = fields.ListField(subfield=fields.StringField(), required=False)
    forbidden_modules = fields.ListField(subfield=fields.StringField())
    allow_indirect_imports = fields.BooleanField(required=False, default=False)

    def validate(self) -> None:
        # The fields, once parsed, hold plain values (the class attributes are import-linter's fields).
        layers_of = cast("list[str] | None", self.layers_of)
        all_but = cast("list[str] | None", self.all_but)
        layers = module_layers(self.session_options)
        listed = [name for layer in layers for name in layer]
        if (layers_of is None) == (all_but is None):
            raise InvalidContractOptions({"layers_of": "Give exactly one of layers_of and all_but."})
        named = layers_of if layers_of is not None else all_but or []
        unknown = [name for name in named if name not in listed]
        if unknown:
            raise InvalidContractOptions({"layers_of/all_but": f"Not in the layers list: {', '.join(unknown)}."})
        if layers_of is not None:
            picked = [name for layer in layers if set(layer) & set(layers_of) for name in layer]
        else:
            picked = [name for name in listed if name not in named]
        root = root_package(self.session_options)
        self.source_modules = [f"{root}.{name}" for name in picked]
        options = {
            "source_modules": self.source_modules,
            "forbidden_modules": self.forbidden_modules,
            # The raw option: import-linter's boolean fields parse the string its TOML reader makes.
            "allow_indirect_imports": str(self.allow_indirect_imports),
        }
        self._inner = ForbiddenContract(self.name, self.session_options, options)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        return self._inner.check(graph, verbose)

    def render_broken_contract(self, check: ContractCheck) -> None:
        self._inner.render_broken_contract(check)
