"""The import-linter contract types pick their modules from the one `layers` list, by layer."""

from __future__ import annotations

from typing import Any

import pytest
from importlinter.domain.contract import InvalidContractOptions

from autopilot_local.import_contracts import LayerForbiddenContract, ModuleLayersContract

SESSION: dict[str, Any] = {"root_packages": ["pkg"], "layers": ["top | cli", "steps", "a : b : c", "gateway", "model"]}


def sources(**options: Any) -> list[str]:
    contract = LayerForbiddenContract("rule", SESSION, {"forbidden_modules": ["boto3"], **options})
    return sorted(str(m) for m in contract.source_modules)


def test_layers_of_picks_the_whole_layer_of_each_module_named() -> None:
    assert sources(layers_of=["b", "model"]) == ["pkg.a", "pkg.b", "pkg.c", "pkg.model"]


def test_all_but_picks_every_listed_module_except_those_named() -> None:
    assert sources(all_but=["gateway", "cli"]) == ["pkg.a", "pkg.b", "pkg.c", "pkg.model", "pkg.steps", "pkg.top"]


def test_a_module_added_to_the_list_is_picked_by_its_layer() -> None:
    session = {**SESSION, "layers": ["top | cli", "steps", "a : b : c : new", "gateway", "model"]}
    contract = LayerForbiddenContract("rule", session, {"forbidden_modules": ["boto3"], "layers_of": ["a"]})
    assert "pkg.new" in {str(m) for m in contract.source_modules}


@pytest.mark.parametrize(
    "options",
    [{}, {"layers_of": ["a"], "all_but": ["gateway"]}, {"layers_of": ["nowhere"]}],
    ids=["neither", "both", "unknown module"],
)
def test_a_rule_must_name_listed_modules_one_way(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidContractOptions):
        LayerForbiddenContract("rule", SESSION, {"forbidden_modules": ["boto3"], **options})


def test_the_layers_contract_needs_the_list() -> None:
    ModuleLayersContract("layers", SESSION, {})
    with pytest.raises(InvalidContractOptions):
        ModuleLayersContract("layers", {"root_packages": ["pkg"]}, {})
