"""Graph flows (OpenStack TaskFlow): steps named by what they require and provide, checked when the
graph is built, independent steps side by side, composed with pipelines both ways, reverted."""
from __future__ import annotations

import pytest

from streams import PipelineDefinitionError, PipelineStatus, TaskError, graph, in_parallel, node
from tests.scenarios.catalogue import (
    JOURNAL,
    add,
    as_list,
    book_graph,
    charge_graph,
    echo,
    highest,
    kwargs_of,
    load_prices,
    lowest,
    needs_a,
    needs_b,
    spread,
    summarise,
)

STOCK = {"stock": "ACME"}  # prices 4.0, 5.0, 6.0


def test_a_diamond_runs_each_step_once_its_inputs_are_ready(driver):
    flow = graph([summarise, lowest, highest, load_prices], stock="ACME")  # any order
    assert driver.run(flow) == {
        "stock": "ACME", "prices": [4.0, 5.0, 6.0], "low": 4.0, "high": 6.0, "summary": "ACME: 4.0..6.0"
    }


def test_independent_steps_share_a_level(driver):
    flow = graph([load_prices, lowest, highest], stock="ACME")
    groups = [e for e in flow.to_spec().entries if hasattr(e, "chains")]
    assert [len(g.chains) - 1 for g in groups] == [1, 2]  # load, then low and high side by side
    assert driver.run(flow)["high"] == 6.0


def test_parameters_with_defaults_are_optional_inputs(driver):
    assert driver.run(graph([load_prices], stock="ACME", days=2))["prices"] == [4.0, 5.0]
    assert driver.run(graph([load_prices], stock="ACME"))["prices"] == [4.0, 5.0, 6.0]


def test_declared_requires_win_over_parameter_names(driver):
    assert driver.run(graph([load_prices, lowest, highest, spread], stock="ACME"))["spread"] == 2.0


def test_node_fixes_inputs_and_renames_what_a_step_provides(driver):
    flow = graph([node(load_prices, days=1), node(lowest, provides="floor")], stock="ACME")
    assert driver.run(flow) == {"stock": "ACME", "prices": [4.0], "floor": 4.0}


def test_a_whole_pipeline_can_be_one_step(driver):
    doubled = node(add.send().continue_with(add, 10), provides="total", requires=["a", "b"])
    assert driver.run(graph([doubled], a=1, b=2))["total"] == 13


def test_a_graph_continues_a_pipeline_and_a_pipeline_continues_a_graph(driver):
    flow = (kwargs_of.send(stock="ACME", days=1)
            .continue_with(graph([load_prices, lowest], expects=["stock", "days"]))
            .continue_with(echo))
    assert driver.run(flow) == {"stock": "ACME", "days": 1, "prices": [4.0], "low": 4.0}


def test_a_graph_inside_a_group(driver):
    flow = in_parallel([graph([load_prices, lowest], stock="ACME"), as_list.send(1)])
    low, listed = driver.run(flow)
    assert (low["low"], listed) == (4.0, [1])


def test_a_failing_step_fails_the_graph_and_reverts_what_completed(driver, key):
    flow = graph([book_graph, charge_graph], key=key, item="hotel", amount=500)
    with pytest.raises(TaskError) as failure:
        driver.run(flow)
    assert failure.value.message == "card declined for 500"
    assert failure.value.status is PipelineStatus.REVERTED
    assert JOURNAL[key] == ["book hotel", "charge 500 for hotel-booking", "cancel hotel-booking"]


def test_a_missing_input_is_refused_naming_the_step_and_the_name():
    with pytest.raises(PipelineDefinitionError, match=r"load_prices requires 'stock'.*pass stock=\.\.\. to graph"):
        graph([load_prices, lowest, highest, summarise], days=3)


def test_a_cycle_is_refused_naming_its_steps():
    with pytest.raises(PipelineDefinitionError, match=r"cycle: .*needs_b \(needs 'b'\) -> .*needs_a \(needs 'a'\) -> .*needs_b"):
        graph([needs_b, needs_a])


def test_a_name_provided_twice_is_refused():
    with pytest.raises(PipelineDefinitionError, match="lowest and .*lowest both provide 'low'"):
        graph([load_prices, lowest, lowest], stock="ACME")


def test_a_step_must_be_a_task_or_a_node():
    with pytest.raises(PipelineDefinitionError, match=r"must be a bound task or node\(\.\.\.\)"):
        graph([load_prices.send("ACME")])
