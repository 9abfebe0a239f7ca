"""The non-trivial mappings against a plain-Python reference: Meta action sums and LinkedIn
pivot URNs, random rows through CSV and NDJSON."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpulse import _kernel
from tests.kernel import reference as ref

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ACTION_TYPES = ["purchase", "omni_purchase", "lead", "link_click", "offsite_conversion.fb_pixel_purchase"]
VALUE = st.integers(0, 8).flatmap(
    lambda places: st.decimals(min_value=0, max_value=10**5, places=places).map(lambda d: format(d, "f"))
)
ACTION = st.tuples(
    st.sampled_from(ACTION_TYPES), st.one_of(VALUE, st.integers(0, 1000).map(str)), st.booleans()
)
ACTIONS = st.one_of(st.none(), st.lists(ACTION, max_size=6))


def action_json(actions: list[tuple[str, str, bool]] | None) -> object:
    if actions is None:
        return None
    # Values as Meta writes them (strings), or as JSON numbers.
    return [
        {"action_type": t, "value": json.loads(v) if as_number and "." not in v else v, "1d_click": v}
        for t, v, as_number in actions
    ]


def action_sum(actions: list[tuple[str, str, bool]] | None, types: set[str]) -> int:
    """Each value rounded to micros half to even, then summed."""
    return sum(ref.micros_of_decimal(Decimal(v)) for t, v, _ in actions or [] if t in types)


META_ROW = st.fixed_dictionaries(
    {"ad": st.sampled_from(["a1", "a2", "a3"]), "actions": ACTIONS, "values": ACTIONS}
)


@SETTINGS
@given(
    rows=st.lists(META_ROW, min_size=1, max_size=12),
    counted=st.sets(st.sampled_from(ACTION_TYPES), min_size=1),
    valued=st.one_of(st.none(), st.sets(st.sampled_from(ACTION_TYPES), min_size=1)),
    as_csv=st.booleans(),
)
def test_meta_actions_match_the_reference(
    rows: list[dict[str, object]], counted: set[str], valued: set[str] | None, as_csv: bool
) -> None:
    options = {"action_types": ",".join(sorted(counted))}
    if valued is not None:
        options["value_action_types"] = ",".join(sorted(valued))
    base = {
        "date_start": "2026-03-01", "account_id": "act", "campaign_id": "c", "adset_id": "s",
        "account_currency": "USD", "impressions": "100", "clicks": "5", "spend": "1.5",
    }  # fmt: skip
    records = [
        {
            **base,
            "ad_id": r["ad"],
            "actions": action_json(r["actions"]),
            "action_values": action_json(r["values"]),
        }  # type: ignore[arg-type]
        for r in rows
    ]
    if as_csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        for record in records:
            writer.writerow(
                {
                    k: "" if v is None else v if isinstance(v, str) else json.dumps(v)
                    for k, v in record.items()
                }
            )
        parsed = _kernel.parse_batch(out.getvalue().encode(), "csv", "meta_ads", options=options)
    else:
        payload = "\n".join(json.dumps(r) for r in records).encode()
        parsed = _kernel.parse_batch(payload, "ndjson", "meta_ads", options=options)
    assert parsed.errors == []
    last = {r["ad"]: r for r in rows}
    want = {
        ad: (action_sum(r["actions"], counted), action_sum(r["values"], valued or counted))  # type: ignore[arg-type]
        for ad, r in last.items()
    }
    got = {f["ad_id"]: (f["conversions_micros"], f["revenue_micros"]) for f in parsed.facts.to_pylist()}
    assert got == want


GROUPS = ["601", "602", "603"]
CAMPAIGNS = ["201", "202"]
CREATIVES = ["90001", "90002"]
PIVOTS = st.tuples(
    st.one_of(st.none(), st.sampled_from(GROUPS)),
    st.one_of(st.none(), st.sampled_from(CAMPAIGNS)),
    st.one_of(st.none(), st.sampled_from(CREATIVES)),
    st.booleans(),
    st.randoms(use_true_random=False),
)


def urns(pivot: tuple[str | None, str | None, str | None, bool, object]) -> list[str]:
    group, campaign, creative, organization, rnd = pivot
    kinds = [
        ("sponsoredCampaignGroup", group),
        ("sponsoredCampaign", campaign),
        ("sponsoredCreative", creative),
    ]
    out = [f"urn:li:{kind}:{i}" for kind, i in kinds if i]
    if organization:
        out.append("urn:li:organization:5")
    rnd.shuffle(out)  # type: ignore[attr-defined]
    return out


def linkedin_expected(
    pivot: tuple[str | None, str | None, str | None, bool, object],
    groups: dict[str, str],
    account: str | None,
) -> tuple[tuple[str, str, str, str] | None, str | None]:
    """(account, campaign, ad group, ad), or None and the field at fault."""
    levels = list(pivot[:3])
    if not any(levels):
        return None, "pivotValues"
    filled = []
    for i in range(3):
        # The nearest level the row has: parents from the nearest up, then children down.
        order = [*range(i, -1, -1), *range(i + 1, 3)]
        filled.append(next(levels[j] for j in order if levels[j]))
    owner = groups.get(levels[0]) if levels[0] else None
    owner = owner or account
    if owner is None:
        return None, "pivotValues"
    return (owner, filled[0], filled[1], filled[2]), None  # type: ignore[return-value]


@SETTINGS
@given(
    pivots=st.lists(PIVOTS, min_size=1, max_size=10),
    groups=st.dictionaries(st.sampled_from(GROUPS), st.sampled_from(["acc-a", "acc-b"])),
    account=st.one_of(st.none(), st.just("acc-default")),
    as_csv=st.booleans(),
)
def test_linkedin_pivots_match_the_reference(
    pivots: list[tuple[str | None, str | None, str | None, bool, object]],
    groups: dict[str, str],
    account: str | None,
    as_csv: bool,
) -> None:
    options = {"currency": "EUR"}
    if groups:
        options["campaign_groups"] = ",".join(f"{g}={a}" for g, a in groups.items())
    if account:
        options["account_id"] = account
    if not groups and not account:
        options["account_id"] = account = "acc-default"
    if as_csv:
        lines = ["start_date,pivotValues,impressions,clicks,costInLocalCurrency,externalWebsiteConversions,"
                 "conversionValueInLocalCurrency"]  # fmt: skip
        for i, p in enumerate(pivots):
            cell = json.dumps(urns(p)) if i % 2 else ",".join(urns(p))
            lines.append(f'2026-03-01,"{cell.replace(chr(34), chr(34) * 2)}",10,1,1,0,0')
        payload, fmt = "\n".join(lines).encode(), "csv"
    else:
        rows = [
            {"dateRange": {"start": {"year": 2026, "month": 3, "day": 1}}, "pivotValues": urns(p),
             "impressions": 10, "clicks": 1, "costInLocalCurrency": "1", "externalWebsiteConversions": 0,
             "conversionValueInLocalCurrency": "0"}
            for p in pivots
        ]  # fmt: skip
        payload, fmt = "\n".join(json.dumps(r) for r in rows).encode(), "ndjson"
    parsed = _kernel.parse_batch(payload, fmt, "linkedin_ads", options=options)  # type: ignore[arg-type]
    want_errors = set()
    want_keys: dict[tuple[str, str, str, str], None] = {}
    for number, pivot in enumerate(pivots, start=1):
        ids, bad = linkedin_expected(pivot, groups, account)
        if ids is None:
            want_errors.add((number, bad))
        else:
            want_keys.pop(ids, None)
            want_keys[ids] = None
    assert {(e.row, e.field) for e in parsed.errors} == want_errors
    got = [
        (f["account_id"], f["campaign_id"], f["ad_group_id"], f["ad_id"]) for f in parsed.facts.to_pylist()
    ]
    assert sorted(got) == sorted(want_keys)
