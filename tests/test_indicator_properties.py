"""Property-based checks (hypothesis) of the indicator invariants: rates in [0, 1], medians
and quantiles between min and max and equal to numpy's, totals equal the sum of their
breakdowns, SQL quantiles equal the Python ones."""

from datetime import UTC, datetime

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from test_indicators import DRENAS, PRISHTINA, make

from civic_api.database import session
from civic_api.indicators import compute
from civic_api.indicators.compute import INDICATORS, Raw
from civic_api.indicators.periods import Period
from civic_api.indicators.service import build_table, top_cells

finite = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(st.lists(finite, min_size=1, max_size=60), st.floats(min_value=0, max_value=1))
def test_quantiles_match_numpy_and_lie_between_min_and_max(values, q):
    assert min(values) <= compute.median(values) <= max(values)
    assert np.isclose(compute.median(values), np.median(values))
    assert np.isclose(compute.quantile(values, q), np.quantile(values, q, method="linear"))


counts = st.integers(min_value=0, max_value=500)


@st.composite
def raws(draw):
    received = draw(counts)
    duplicates = draw(st.integers(0, received))
    handled = received - duplicates
    resolved = draw(st.integers(0, handled))
    closed = draw(st.integers(0, handled))
    answered = draw(st.integers(0, closed))
    yes = draw(st.integers(0, answered))
    no = draw(st.integers(0, answered - yes))
    devices = draw(st.integers(0, received))
    return Raw(
        received=received,
        duplicates=duplicates,
        handled=handled,
        resolved=resolved,
        rejected=draw(st.integers(0, handled - resolved)),
        reopened=draw(st.integers(0, resolved)),
        target_n=handled,
        within_target=draw(st.integers(0, handled)),
        closed=closed,
        answered=answered,
        rating_sum=draw(st.integers(answered, 5 * answered)),
        rating_4_5=draw(st.integers(0, answered)),
        fixed_yes=yes,
        fixed_no=no,
        devices=devices,
        followed=draw(st.integers(devices, received)) if devices else 0,
        top_cell_reports=draw(st.integers(0, received)),
        previous_hotspots=(previous := draw(counts)),
        cooled_hotspots=draw(st.integers(0, previous)),
        population=draw(st.one_of(st.none(), st.integers(1, 300_000))),
    )


@given(raws(), st.integers(min_value=1, max_value=30))
def test_rates_are_in_0_1_and_withheld_below_min_n(raw, min_n):
    for indicator in INDICATORS:
        value = compute.evaluate(indicator, raw, min_n, public_sensitive=False)
        if indicator.unit == "rate" and value.value is not None:
            assert 0 <= value.value <= 1, indicator.name
        if indicator.unit == "rating" and value.value is not None:
            assert 1 <= value.value <= 5
        if indicator.kind == "statistic":
            assert (value.value is None) == (value.withheld is not None)
            if value.withheld == compute.BELOW_MIN_N:
                assert (value.n or 0) < min_n
        public = compute.evaluate(indicator, raw, min_n, public_sensitive=True)
        assert public.value is None  # nothing sensitive without a release


@given(st.dictionaries(st.integers(0, 500), st.integers(1, 50), max_size=80))
def test_top_cells_are_at_least_a_tenth_and_the_biggest(cells):
    top = top_cells(cells)
    assert len(top) >= min(len(cells), max(1, -(-len(cells) // 10)))
    if top:
        assert (
            min(cells[c] for c in top) >= max(n for c, n in cells.items() if c not in top)
            if len(top) < len(cells)
            else True
        )


moments = st.datetimes(
    min_value=datetime(2026, 6, 25), max_value=datetime(2026, 10, 5), timezones=st.just(UTC)
)
report_strategy = st.tuples(
    st.sampled_from(["waste", "public_lighting", "roads_potholes", "commenting"]),
    st.sampled_from([PRISHTINA, DRENAS]),
    moments,
    st.one_of(st.none(), st.floats(min_value=0.1, max_value=500)),
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(report_strategy, min_size=1, max_size=25))
def test_totals_equal_their_breakdowns_and_sql_matches_python(app, db, reports):
    created = []
    try:
        for code, place, submitted, ack in reports:
            created.append(make(code, place, submitted.isoformat(), ack=ack).id)
        period = Period.parse("2026-Q3")
        now = datetime(2026, 11, 1, tzinfo=UTC)
        table = build_table(period, now, min_n=1, exact_for=None)
        rows = {(r.municipality, r.level, r.key): r.values for r in table.rows}
        groups = dict(
            session.execute(
                text(
                    "SELECT c.code, g.code FROM category c JOIN category_group g ON g.id = c.group_id"
                )
            ).all()
        )
        for slug in ("prishtina", "drenas"):

            def received(level, key, slug=slug):
                return rows[(slug, level, key)]["reports_received"].value

            for group in set(groups.values()):
                assert received("group", group) == sum(
                    received("category", c) for c, g in groups.items() if g == group
                )
            assert received("all", "non_sensitive") + received("all", "sensitive") == sum(
                received("group", g) for g in set(groups.values())
            )
            hours = sorted(
                ack
                for code, place, submitted, ack in reports
                if ack is not None
                and (place == PRISHTINA) == (slug == "prishtina")
                and groups[code] != "harassment"
                and period.start <= submitted < period.end
            )
            got = rows[(slug, "all", "non_sensitive")]["acknowledgement_hours_median"].value
            if hours:
                assert np.isclose(got, round(compute.quantile(hours, 0.5), 4), atol=1e-3)
            else:
                assert got is None
    finally:
        session.execute(text("DELETE FROM report WHERE id = ANY(:ids)"), {"ids": created})
        session.commit()
