"""Experiment statistics against worked examples and an independent computation (scipy)."""

from __future__ import annotations

import math
import random

import pytest

from moviepulse.analytics.stats import (
    NOT_ENOUGH_DATA,
    chi2_sf,
    cuped,
    cuped_moments,
    msprt,
    msprt_path,
    srm_check,
    two_proportion_ztest,
)

scipy_stats = pytest.importorskip("scipy.stats")


def test_ztest_worked_example_textbook():
    # Worked example (homeworksource.com/p/1008622): x1=140/n1=200 vs x2=255/n2=340:
    # pooled p = 0.7314815, SE = 0.03949401, z = (0.70 - 0.75)/SE = -1.266015.
    r = two_proportion_ztest(140, 200, 255, 340, min_n=1)
    assert r["state"] == "ok"
    assert r["pooled"] == pytest.approx(0.7314815, abs=1e-7)
    assert r["se_pooled"] == pytest.approx(0.03949401, abs=1e-8)
    assert r["z"] == pytest.approx(1.266015, abs=1e-6)  # B - A, so the sign is flipped
    # two-sided normal p = 2·Φ(-1.266015) = 0.2055 (the source quotes a one-tailed 0.103)
    assert r["p_value"] == pytest.approx(0.2055, abs=1e-4)


def test_ztest_second_worked_example():
    # x1=28/254 vs x2=36/301: z = -0.344, two-tailed p = 0.7307 (homeworksource.com/p/997366).
    r = two_proportion_ztest(28, 254, 36, 301, min_n=1)
    assert r["z"] == pytest.approx(0.344, abs=1e-3)
    assert r["p_value"] == pytest.approx(0.7307, abs=1e-3)


def test_difference_ci_matches_newcombe_wald_interval():
    # Newcombe (1998), Statistics in Medicine 17:873-890, example (a): 56/70 - 48/80,
    # method 1 (simple asymptotic / Wald): 0.0575 to 0.3425. Here A=48/80, B=56/70.
    r = two_proportion_ztest(48, 80, 56, 70, min_n=1)
    lo, hi = r["ci_diff"]
    assert lo == pytest.approx(0.0575, abs=5e-5)
    assert hi == pytest.approx(0.3425, abs=5e-5)


def test_ztest_matches_scipy_chi2_contingency():
    # Pooled z^2 equals Pearson's chi^2 of the 2x2 table without continuity correction.
    ca, na, cb, nb = 520, 10_000, 610, 10_100
    r = two_proportion_ztest(ca, na, cb, nb)
    chi2, p, _, _ = scipy_stats.chi2_contingency([[ca, na - ca], [cb, nb - cb]], correction=False)
    assert r["z"] ** 2 == pytest.approx(chi2, rel=1e-9)
    assert r["p_value"] == pytest.approx(p, rel=1e-9)
    zc = scipy_stats.norm.ppf(0.975)
    pa, pb = ca / na, cb / nb
    se = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    assert r["ci_diff"] == pytest.approx((pb - pa - zc * se, pb - pa + zc * se), rel=1e-12)


def test_lift_ci_is_delta_method():
    ca, na, cb, nb = 500, 10_000, 600, 10_000
    r = two_proportion_ztest(ca, na, cb, nb)
    pa, pb = ca / na, cb / nb
    # Independent: gradient of g(pa, pb) = pb/pa is (-pb/pa^2, 1/pa).
    grad = (-pb / pa**2, 1 / pa)
    var = grad[0] ** 2 * pa * (1 - pa) / na + grad[1] ** 2 * pb * (1 - pb) / nb
    half = scipy_stats.norm.ppf(0.975) * math.sqrt(var)
    assert r["lift"] == pytest.approx(0.2)
    assert r["ci_lift"] == pytest.approx((0.2 - half, 0.2 + half), rel=1e-12)


def test_min_sample_guard_is_a_state():
    r = two_proportion_ztest(10, 999, 30, 5000)
    assert r["state"] == NOT_ENOUGH_DATA
    assert r["z"] is None and r["p_value"] is None
    assert "1000" in r["reason"]
    assert two_proportion_ztest(10, 1000, 30, 1000)["state"] == "ok"


def test_chi2_sf_matches_scipy():
    for x, df in [(0.5, 1), (3.84, 1), (36.0, 1), (10.0, 3), (2.0, 4), (50.0, 2), (0.01, 5)]:
        assert chi2_sf(x, df) == pytest.approx(scipy_stats.chi2.sf(x, df), rel=1e-9, abs=1e-300)


def test_srm_balanced_and_skewed():
    ok = srm_check({"A": 5050, "B": 4950}, {"A": 0.5, "B": 0.5})
    assert ok["chi2"] == pytest.approx(1.0)
    assert ok["p_value"] == pytest.approx(scipy_stats.chisquare([5050, 4950]).pvalue)
    assert not ok["flagged"]
    bad = srm_check({"A": 5300, "B": 4700}, {"A": 0.5, "B": 0.5})
    assert bad["chi2"] == pytest.approx(36.0)
    assert bad["p_value"] == pytest.approx(scipy_stats.chisquare([5300, 4700]).pvalue, rel=1e-6)
    assert bad["flagged"]
    # A configured 70/30 split: 7000/3000 is fine, 5000/5000 is a mismatch.
    assert not srm_check({"A": 7000, "B": 3000}, {"A": 70, "B": 30})["flagged"]
    uneven = srm_check({"A": 5000, "B": 5000}, {"A": 70, "B": 30})
    assert uneven["flagged"]
    assert uneven["p_value"] == pytest.approx(scipy_stats.chisquare([5000, 5000], [7000, 3000]).pvalue)
    assert srm_check({"A": 3, "B": 1}, {"A": 1, "B": 1})["state"] == NOT_ENOUGH_DATA


def _cuped_units(seed: int, n: int, effect: float):
    rng = random.Random(seed)
    units = {"A": [], "B": []}
    for i in range(n):
        g = "A" if i % 2 == 0 else "B"
        base = rng.uniform(0.01, 0.3)  # device propensity, seen in both periods
        w = rng.randint(5, 40)
        c = sum(rng.random() < min(1.0, base + (effect if g == "B" else 0)) for _ in range(w))
        pw = rng.randint(5, 40)
        x = sum(rng.random() < base for _ in range(pw)) / pw if i % 5 else None  # 20% without pre-period
        units[g].append((w, c, x))
    return units


def _cuped_direct(units):
    """Straightforward per-device CUPED in plain Python (the independent computation)."""
    pre = [(w, c, x) for g in units.values() for w, c, x in g if x is not None]
    x_imp = sum(w * x for w, _, x in pre) / sum(w for w, _, _ in pre)
    filled = {g: [(w, c, x if x is not None else x_imp) for w, c, x in us] for g, us in units.items()}
    allu = [u for us in filled.values() for u in us]
    x_pool = sum(w * x for w, _, x in allu) / sum(w for w, _, _ in allu)
    sxy = sxx = 0.0
    for us in filled.values():
        sw = sum(w for w, _, _ in us)
        xg = sum(w * x for w, _, x in us) / sw
        yg = sum(c for _, c, _ in us) / sw
        sxy += sum(w * (x - xg) * (c / w - yg) for w, c, x in us)
        sxx += sum(w * (x - xg) ** 2 for w, _, x in us)
    theta = sxy / sxx
    out = {}
    for g, us in filled.items():
        sw = sum(w for w, _, _ in us)
        xg = sum(w * x for w, _, x in us) / sw
        yg = sum(c for _, c, _ in us) / sw
        adj = yg - theta * (xg - x_pool)
        r = [(w, c / w - theta * (x - x_pool)) for w, c, x in us]
        var = sum(w * w * (rv - adj) ** 2 for w, rv in r) / sw**2
        out[g] = (yg, adj, var)
    return theta, out


def test_cuped_matches_direct_computation_and_reduces_variance():
    units = _cuped_units(3, 3000, 0.02)
    result = cuped({g: cuped_moments(us) for g, us in units.items()})
    theta, direct = _cuped_direct(units)
    assert result["state"] == "ok"
    assert result["theta"] == pytest.approx(theta, rel=1e-9)
    assert 0.3 < theta < 1.2  # y and x share the device propensity (attenuated: x is noisy)
    for g in ("A", "B"):
        raw, adj, var = direct[g]
        assert result["groups"][g]["ctr"] == pytest.approx(raw, rel=1e-12)
        assert result["groups"][g]["ctr_adj"] == pytest.approx(adj, rel=1e-9)
        assert result["groups"][g]["se_adj"] ** 2 == pytest.approx(var, rel=1e-6)
        assert result["groups"][g]["se_adj"] < result["groups"][g]["se"]  # variance reduced
    assert result["diff_adj"] == pytest.approx(direct["B"][1] - direct["A"][1], rel=1e-9)
    # The adjustment is not a no-op (MovieRec's defect): adjusted != raw when x̄ differs by group.
    assert result["groups"]["A"]["ctr_adj"] != pytest.approx(result["groups"]["A"]["ctr"], rel=1e-6)


def test_cuped_without_pre_period_is_raw_ctr():
    units = {"A": [(10, 1, None), (20, 3, None)], "B": [(10, 2, None)]}
    result = cuped({g: cuped_moments(us) for g, us in units.items()})
    assert result["state"] == "no_pre_period"
    assert result["groups"]["A"]["ctr_adj"] == pytest.approx(4 / 30)
    assert result["groups"]["B"]["ctr_adj"] == pytest.approx(0.2)


def test_msprt_likelihood_ratio_matches_numerical_mixture():
    ca, na, cb, nb = 480, 10_000, 560, 10_000
    tau = 0.005
    r = msprt(ca, na, cb, nb, tau=tau)
    pa, pb = ca / na, cb / nb
    v = pa * (1 - pa) / na + pb * (1 - pb) / nb
    d = pb - pa
    # Λ = ∫ N(d; θ, V)/N(d; 0, V) · N(θ; 0, τ²) dθ, integrated numerically with scipy.
    from scipy.integrate import quad

    def integrand(theta):
        return math.exp((-(d - theta) ** 2 + d * d) / (2 * v)) * scipy_stats.norm.pdf(theta, 0, tau)

    lam, _ = quad(integrand, -20 * tau, 20 * tau, points=[0, d], limit=200)
    assert r["likelihood_ratio"] == pytest.approx(lam, rel=1e-6)
    assert r["p_value"] == pytest.approx(min(1, 1 / lam), rel=1e-6)
    lo, hi = r["ci_diff"]
    assert lo < d < hi


def test_msprt_controls_false_positives_under_daily_peeking():
    # A/A experiments looked at 30 times: naive z-test peeking rejects far more often than α,
    # the always-valid mSPRT stays at or below α.
    rng = random.Random(11)
    runs, looks, per_look, p = 200, 30, 250, 0.05
    naive = seq = 0
    for _ in range(runs):
        ca = cb = na = nb = 0
        path = []
        naive_hit = False
        for _ in range(looks):
            na += per_look
            nb += per_look
            ca += sum(rng.random() < p for _ in range(per_look))
            cb += sum(rng.random() < p for _ in range(per_look))
            path.append((ca, na, cb, nb))
            if two_proportion_ztest(ca, na, cb, nb, min_n=1)["p_value"] < 0.05:
                naive_hit = True
        naive += naive_hit
        seq += msprt_path(path, tau=0.01)["reject"]
    assert naive / runs > 0.10
    assert seq / runs <= 0.05


def test_msprt_detects_a_real_effect():
    path, ca, cb = [], 0, 0
    rng = random.Random(5)
    for day in range(1, 15):
        ca += sum(rng.random() < 0.05 for _ in range(2000))
        cb += sum(rng.random() < 0.065 for _ in range(2000))
        path.append((ca, 2000 * day, cb, 2000 * day))
    r = msprt_path(path)
    assert r["reject"] and r["looks"] == 14
    assert r["ci_diff"][0] > 0
