"""aggregate against the plain-Python reference: exact sums, the same KPIs and the same nulls."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adpulse import _kernel
from tests.kernel import reference as ref

KEY_SETS = [[], ["campaign_id"], ["campaign_id", "date"], ["date"], ["currency"], ["date", "campaign_id"]]

ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "campaign_id": st.sampled_from(["c1", "c2", "c3", None]),
            "date": st.sampled_from([dt.date(2026, 11, d) for d in (1, 2, 3)]),
            "currency": st.sampled_from(["EUR", "EUR", "EUR", "USD"]),
            "impressions": st.integers(0, 10**6) | st.just(0),
            "clicks": st.integers(0, 1000) | st.just(0),
            "cost_micros": st.integers(0, 10**12) | st.just(0),
            "conversions_micros": st.integers(0, 10**9) | st.just(0),
            "revenue_micros": st.integers(0, 10**12),
        }
    ),
    max_size=60,
)


def table(rows: list[dict[str, object]], dictionary: bool, chunk: int) -> pa.Table:
    campaign = pa.array([r["campaign_id"] for r in rows], pa.string())
    columns = {
        "campaign_id": campaign.dictionary_encode() if dictionary else campaign,
        "date": pa.array([r["date"] for r in rows], pa.date32()),
        "currency": pa.array([r["currency"] for r in rows], pa.string()),
        **{m: pa.array([r[m] for r in rows], pa.int64()) for m in ref.MEASURES},
    }
    whole = pa.table(columns)
    return pa.Table.from_batches(whole.to_batches(max_chunksize=chunk), whole.schema)


def close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    assert isinstance(a, float) and isinstance(b, float)
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


@settings(max_examples=80, deadline=None)
@given(ROWS, st.sampled_from(KEY_SETS), st.booleans(), st.integers(1, 25))
def test_aggregate_matches_the_reference(
    rows: list[dict[str, object]], keys: list[str], dictionary: bool, chunk: int
) -> None:
    result = _kernel.aggregate(table(rows, dictionary, chunk), keys)
    tracked = "currency" not in keys
    assert result.column_names == [
        *keys,
        *(["currency"] if tracked else []),
        *ref.MEASURES,
        *_kernel.KPI_COLUMNS,
    ]
    want = ref.aggregate(rows, keys)
    got = {tuple(r[k] for k in keys): r for r in result.to_pylist()}
    assert got.keys() == want.keys()
    for key, expected in want.items():
        row = got[key]
        for column in [*ref.MEASURES, *(["currency"] if tracked and rows else [])]:
            assert row[column] == expected[column], (key, column)
        for kpi in ref.KPIS:
            assert close(row[kpi], expected[kpi]), (key, kpi, row[kpi], expected[kpi])


def facts(**columns: list[object]) -> pa.Table:
    n = len(next(iter(columns.values())))
    measures = {m: pa.array(columns.pop(m, [0] * n), pa.int64()) for m in ref.MEASURES}
    return pa.table({**columns, **measures})


def test_zero_denominators_and_mixed_money_are_null_never_zero_or_infinite() -> None:
    t = facts(
        campaign_id=["a", "a", "b", "c"],
        currency=["EUR", "USD", "EUR", "EUR"],
        impressions=[10, 10, 0, 5],
        clicks=[1, 1, 0, 1],
        cost_micros=[1, 1, 0, 7],
        revenue_micros=[5, 5, 3, 0],
    )
    rows = {r["campaign_id"]: r for r in _kernel.aggregate(t, ["campaign_id"]).to_pylist()}
    assert rows["a"]["currency"] is None
    assert rows["a"]["cost_micros"] is None and rows["a"]["revenue_micros"] is None
    assert rows["a"]["ctr"] == 0.1 and rows["a"]["cvr"] == 0.0
    assert all(rows["a"][k] is None for k in ("cpc", "cpm", "cpa", "roas", "roi"))
    assert all(rows["b"][k] is None for k in _kernel.KPI_COLUMNS)
    assert rows["c"]["roi"] == -1.0 and rows["c"]["cpa"] is None


def test_carried_columns_keep_the_first_value_and_no_keys_gives_one_row() -> None:
    t = facts(campaign_id=["a", "a", "b"], campaign_name=["first", "second", "b"], clicks=[1, 2, 3])
    rows = {r["campaign_id"]: r for r in _kernel.aggregate(t, ["campaign_id"], ["campaign_name"]).to_pylist()}
    assert rows["a"]["campaign_name"] == "first" and rows["a"]["clicks"] == 3
    total = _kernel.aggregate(t, []).to_pylist()
    assert len(total) == 1 and total[0]["clicks"] == 6
    empty = _kernel.aggregate(t.slice(0, 0), [])
    assert empty.num_rows == 1 and empty.to_pylist()[0]["clicks"] == 0
    assert _kernel.aggregate(t.slice(0, 0), ["campaign_id"]).num_rows == 0
    no_chunks = pa.Table.from_batches([], t.schema)
    by_campaign = _kernel.aggregate(no_chunks, ["campaign_id"], ["campaign_name"])
    assert by_campaign.num_rows == 0 and "campaign_name" in by_campaign.column_names


def test_record_batches_and_readers_are_accepted() -> None:
    t = facts(campaign_id=["a", "b", "a"], clicks=[1, 2, 3])
    for source in (t.to_batches()[0], t.to_reader(), t):
        got = {r["campaign_id"]: r["clicks"] for r in _kernel.aggregate(source, ["campaign_id"]).to_pylist()}
        assert got == {"a": 4, "b": 2}


def test_sums_that_overflow_int64_raise() -> None:
    t = facts(campaign_id=["a", "a"], cost_micros=[2**63 - 1, 1])
    with pytest.raises(OverflowError, match="cost_micros"):
        _kernel.aggregate(t, ["campaign_id"])
    back = facts(campaign_id=["a", "a", "a"], clicks=[2**63 - 1, 1, -2])
    assert _kernel.aggregate(back, ["campaign_id"]).to_pylist()[0]["clicks"] == 2**63 - 2


@pytest.mark.parametrize(
    ("keys", "carry", "table"),
    [
        (["nope"], [], facts(a=[1])),
        (["a", "a"], [], facts(a=[1])),
        (["clicks"], [], facts(a=[1])),
        ([], ["currency"], facts(currency=["EUR"])),
        ([], [], pa.table({"impressions": [1.5]})),
        ([], [], facts(a=[1]).set_column(5, "clicks", pa.array([None], pa.int64()))),
    ],
)
def test_bad_arguments_raise_value_error(keys: list[str], carry: list[str], table: pa.Table) -> None:
    with pytest.raises(ValueError):
        _kernel.aggregate(table, keys, carry)
