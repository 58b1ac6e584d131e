"""Experiment statistics as pure functions (no database, no Flask).

Conventions: A is the control, B the treatment; every difference is ``B − A``.

* :func:`two_proportion_ztest` — pooled two-proportion z-test, two-sided p-value, 95 % CI of
  the difference with the *unpooled* SE, and a CI of the relative lift ``p_B/p_A − 1`` by
  the **delta method** on the ratio: ``Var(p̂_B/p̂_A) ≈ Var(p̂_B)/p_A² + p_B²·Var(p̂_A)/p_A⁴``.
  Below ``min_n`` impressions in either arm the state is ``not_enough_data`` (not an error).
* :func:`srm_check` — Pearson χ² goodness of fit of assigned units against the configured
  split; flagged when ``p < 0.001`` (GrowthBook's default threshold).
* :func:`cuped` — CUPED from per-group moments (pre-period metric per device, **pooled
  within-group θ**), ``CTR_adj_g = ȳ_g − θ·(x̄_g − x̄_pooled)``; raw CTR when there is no
  pre-period data. Variances by linearisation of the ratio estimator (devices are the units).
* :func:`msprt` — always-valid mixture SPRT for the difference of two proportions
  (Johari et al., "Always Valid Inference", 2017; normal approximation), mixing
  distribution ``N(0, τ²)`` on the absolute difference. ``p = min(1, 1/Λ)`` and the
  confidence sequence stay valid under continuous monitoring ("peeking"); feed daily
  cumulative counts to :func:`msprt_path` for the running-minimum p-value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from statistics import NormalDist
from typing import Any

_N = NormalDist()

NOT_ENOUGH_DATA = "not_enough_data"
OK = "ok"


def z_critical(confidence: float = 0.95) -> float:
    """Two-sided critical value, e.g. 1.959963984540054 for 95 %."""
    return _N.inv_cdf(0.5 + confidence / 2)


def two_sided_p(z: float) -> float:
    """``P(|Z| ≥ |z|)`` for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


def two_proportion_ztest(clicks_a: int, n_a: int, clicks_b: int, n_b: int, *, min_n: int = 1000,
                         confidence: float = 0.95) -> dict[str, Any]:
    """Pooled two-proportion z-test of ``p_B − p_A`` with CIs of the difference and relative lift."""
    p_a = clicks_a / n_a if n_a else 0.0
    p_b = clicks_b / n_b if n_b else 0.0
    out: dict[str, Any] = {
        "n_a": n_a, "clicks_a": clicks_a, "p_a": p_a, "n_b": n_b, "clicks_b": clicks_b, "p_b": p_b,
        "diff": p_b - p_a, "lift": (p_b / p_a - 1) if p_a else None, "min_n": min_n, "confidence": confidence,
        "z": None, "p_value": None, "ci_diff": None, "ci_lift": None, "significant": None,
        "lift_ci_method": "delta method on p_B/p_A",
    }
    if n_a < min_n or n_b < min_n:
        out["state"] = NOT_ENOUGH_DATA
        out["reason"] = f"need at least {min_n} impressions per variant (A: {n_a}, B: {n_b})"
        return out
    pooled = (clicks_a + clicks_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    zc = z_critical(confidence)
    var_a = p_a * (1 - p_a) / n_a
    var_b = p_b * (1 - p_b) / n_b
    se_diff = math.sqrt(var_a + var_b)
    diff = p_b - p_a
    if se_pooled > 0:
        z = diff / se_pooled
        p_value = two_sided_p(z)
    else:  # both arms 0 % or both 100 %: no evidence of a difference
        z, p_value = 0.0, 1.0
    out.update(state=OK, pooled=pooled, se_pooled=se_pooled, se_diff=se_diff, z=z, p_value=p_value,
               ci_diff=(diff - zc * se_diff, diff + zc * se_diff), significant=p_value < (1 - confidence))
    if p_a > 0:
        se_lift = math.sqrt(var_b / p_a**2 + p_b**2 * var_a / p_a**4)
        lift = p_b / p_a - 1
        out.update(se_lift=se_lift, ci_lift=(lift - zc * se_lift, lift + zc * se_lift))
    return out


# -- χ² -----------------------------------------------------------------------------------
def _gammainc_upper_regularized(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x)/Γ(a) (Numerical Recipes: series for x < a+1, else continued fraction)."""
    if x <= 0:
        return 1.0
    gln = math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - gln))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - gln) * h


def chi2_sf(x: float, df: int) -> float:
    """Survival function of the χ² distribution."""
    return _gammainc_upper_regularized(df / 2, x / 2)


def srm_check(observed: Mapping[str, int], expected_split: Mapping[str, float], *,
              threshold: float = 0.001, min_total: int = 100) -> dict[str, Any]:
    """Sample-ratio mismatch: χ² of observed assignment counts against ``expected_split``
    (weights, normalised). Variants missing from ``observed`` count 0."""
    names = list(expected_split)
    weights = [float(expected_split[v]) for v in names]
    wsum = sum(weights)
    counts = [int(observed.get(v, 0)) for v in names]
    total = sum(counts)
    out: dict[str, Any] = {"observed": dict(zip(names, counts, strict=True)),
                           "split": {v: w / wsum for v, w in zip(names, weights, strict=True)},
                           "threshold": threshold, "total": total, "chi2": None, "p_value": None,
                           "df": len(names) - 1, "flagged": False}
    if total < min_total or wsum <= 0:
        out["state"] = NOT_ENOUGH_DATA
        out["reason"] = f"need at least {min_total} assigned units (have {total})"
        return out
    expected = [total * w / wsum for w in weights]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True) if e > 0)
    p = chi2_sf(chi2, len(names) - 1)
    out.update(state=OK, expected=dict(zip(names, expected, strict=True)), chi2=chi2, p_value=p,
               flagged=p < threshold)
    return out


# -- CUPED --------------------------------------------------------------------------------
@dataclass
class CupedMoments:
    """Sums over the devices of one group. Per device: ``w`` = window impressions, ``c`` =
    window clicks (``y = c/w``), ``x`` = pre-period CTR. Devices without pre-period data go in
    a separate ``CupedMoments(has_pre=False)`` whose x-sums are 0 (x is imputed later)."""

    units: int = 0
    w: float = 0.0       # Σw
    c: float = 0.0       # Σc
    wx: float = 0.0      # Σw·x
    wxx: float = 0.0     # Σw·x²
    cx: float = 0.0      # Σc·x
    w2: float = 0.0      # Σw²
    c2: float = 0.0      # Σc²
    wc: float = 0.0      # Σw·c
    wcx: float = 0.0     # Σw·c·x
    w2x: float = 0.0     # Σw²·x
    w2xx: float = 0.0    # Σw²·x²

    def add(self, other: CupedMoments) -> CupedMoments:
        return CupedMoments(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def impute(self, x: float) -> CupedMoments:
        """Moments of the same devices with every pre-period value set to ``x``."""
        return CupedMoments(units=self.units, w=self.w, c=self.c, wx=x * self.w, wxx=x * x * self.w,
                            cx=x * self.c, w2=self.w2, c2=self.c2, wc=self.wc, wcx=x * self.wc,
                            w2x=x * self.w2, w2xx=x * x * self.w2)


def cuped_moments(units: Iterable[tuple[float, float, float | None]]) -> tuple[CupedMoments, CupedMoments]:
    """(with pre-period, without) moments from ``(w, c, x_or_None)`` per device (tests, small data)."""
    pre, nopre = CupedMoments(), CupedMoments()
    for w, c, x in units:
        m = pre if x is not None else nopre
        xv = x or 0.0
        m.units += 1
        m.w += w
        m.c += c
        m.wx += w * xv
        m.wxx += w * xv * xv
        m.cx += c * xv
        m.w2 += w * w
        m.c2 += c * c
        m.wc += w * c
        m.wcx += w * c * xv
        m.w2x += w * w * xv
        m.w2xx += w * w * xv * xv
    return pre, nopre


def _ratio_var(m: CupedMoments, theta: float, center: float) -> tuple[float, float]:
    """(R, Var R) of R = Σw·r/Σw with r = y − θ(x − center), linearised over devices."""
    r_mean = (m.c - theta * (m.wx - center * m.w)) / m.w
    s_r2 = (m.c2 + theta**2 * m.w2xx + theta**2 * center**2 * m.w2 - 2 * theta * m.wcx
            + 2 * theta * center * m.wc - 2 * theta**2 * center * m.w2x)  # Σ(w·r)²
    s_wr = m.wc - theta * m.w2x + theta * center * m.w2  # Σw·(w·r)
    var = (s_r2 - 2 * r_mean * s_wr + r_mean**2 * m.w2) / m.w**2
    return r_mean, max(var, 0.0)


def cuped(groups: Mapping[str, tuple[CupedMoments, CupedMoments]], *, control: str = "A",
          treatment: str = "B", confidence: float = 0.95) -> dict[str, Any]:
    """CUPED-adjusted CTR per group and the adjusted ``B − A`` difference with a CI.

    ``groups[g] = (moments of devices with pre-period data, moments of devices without)``.
    Missing pre-period values are imputed with the pooled pre-period mean (which leaves the
    adjustment of those devices at 0). θ is the pooled within-group regression slope.
    """
    pre_total = CupedMoments()
    for pre, _ in groups.values():
        pre_total = pre_total.add(pre)
    result: dict[str, Any] = {"method": "CUPED, pooled within-group theta, pre-period CTR per device",
                              "groups": {}, "theta": None}
    if pre_total.units == 0 or pre_total.w == 0:
        result["state"] = "no_pre_period"
        for g, (pre, nopre) in groups.items():
            m = pre.add(nopre)
            ctr, var = _ratio_var(m, 0.0, 0.0) if m.w else (None, None)
            result["groups"][g] = {"ctr": ctr, "ctr_adj": ctr, "se": math.sqrt(var) if var is not None else None,
                                   "se_adj": math.sqrt(var) if var is not None else None,
                                   "devices": m.units, "devices_with_pre": 0}
        return _cuped_diff(result, control, treatment, confidence)
    x_impute = pre_total.wx / pre_total.w
    full = {g: pre.add(nopre.impute(x_impute)) for g, (pre, nopre) in groups.items()}
    total = CupedMoments()
    for m in full.values():
        total = total.add(m)
    x_pooled = total.wx / total.w
    sxy = sxx = 0.0
    for m in full.values():
        if m.w:
            sxy += m.cx - m.wx * m.c / m.w
            sxx += m.wxx - m.wx**2 / m.w
    theta = sxy / sxx if sxx > 0 else 0.0
    result.update(state=OK, theta=theta, x_pooled=x_pooled)
    for g, m in full.items():
        if not m.w:
            result["groups"][g] = {"ctr": None, "ctr_adj": None, "se": None, "se_adj": None, "devices": 0,
                                   "devices_with_pre": 0}
            continue
        raw, var_raw = _ratio_var(m, 0.0, 0.0)
        adj, var_adj = _ratio_var(m, theta, x_pooled)
        x_g = m.wx / m.w
        result["groups"][g] = {
            "ctr": raw, "ctr_adj": adj, "x_mean": x_g, "se": math.sqrt(var_raw), "se_adj": math.sqrt(var_adj),
            "variance_reduction": (1 - var_adj / var_raw) if var_raw > 0 else None,
            "devices": m.units, "devices_with_pre": groups[g][0].units,
        }
    return _cuped_diff(result, control, treatment, confidence)


def _cuped_diff(result: dict[str, Any], control: str, treatment: str, confidence: float) -> dict[str, Any]:
    a = result["groups"].get(control)
    b = result["groups"].get(treatment)
    if not a or not b or a["ctr_adj"] is None or b["ctr_adj"] is None:
        result["diff_adj"] = None
        return result
    diff = b["ctr_adj"] - a["ctr_adj"]
    se = math.sqrt(a["se_adj"] ** 2 + b["se_adj"] ** 2)
    zc = z_critical(confidence)
    z = diff / se if se > 0 else 0.0
    result.update(diff_adj=diff, se_diff_adj=se, z_adj=z, p_value_adj=two_sided_p(z) if se > 0 else 1.0,
                  ci_diff_adj=(diff - zc * se, diff + zc * se))
    return result


# -- sequential (mSPRT) -------------------------------------------------------------------
def msprt(clicks_a: int, n_a: int, clicks_b: int, n_b: int, *, tau: float | None = None,
          tau_relative: float = 0.1, alpha: float = 0.05) -> dict[str, Any]:
    """Mixture SPRT for ``θ = p_B − p_A`` with mixing ``θ ~ N(0, τ²)``.

    With ``Δ̂ = p̂_B − p̂_A`` and ``V = p̂_A(1−p̂_A)/n_A + p̂_B(1−p̂_B)/n_B``:
    ``Λ = sqrt(V/(V+τ²)) · exp(τ²Δ̂² / (2V(V+τ²)))``, always-valid ``p = min(1, 1/Λ)``, and the
    confidence sequence ``Δ̂ ± sqrt(V(V+τ²)/τ² · (2·ln(1/α) + ln((V+τ²)/V)))``.
    ``τ`` defaults to ``tau_relative · p̂_pooled`` (mass on relative lifts of about ±10 %).
    """
    out: dict[str, Any] = {"alpha": alpha, "tau": None, "likelihood_ratio": None, "p_value": None,
                           "ci_diff": None, "reject": False,
                           "method": "mSPRT, normal approximation, mixing N(0, tau^2) on p_B - p_A"}
    if not n_a or not n_b:
        out["state"] = NOT_ENOUGH_DATA
        return out
    p_a, p_b = clicks_a / n_a, clicks_b / n_b
    pooled = (clicks_a + clicks_b) / (n_a + n_b)
    tau = tau if tau is not None else tau_relative * pooled
    v = p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b
    if v <= 0 or tau <= 0:
        out.update(state=NOT_ENOUGH_DATA, tau=tau)
        return out
    t2 = tau * tau
    diff = p_b - p_a
    log_lr = 0.5 * math.log(v / (v + t2)) + t2 * diff * diff / (2 * v * (v + t2))
    half = math.sqrt(v * (v + t2) / t2 * (2 * math.log(1 / alpha) + math.log((v + t2) / v)))
    p_value = min(1.0, math.exp(-log_lr)) if log_lr < 700 else 0.0
    out.update(state=OK, tau=tau, variance=v, diff=diff, log_likelihood_ratio=log_lr,
               likelihood_ratio=math.exp(min(log_lr, 700)), p_value=p_value,
               ci_diff=(diff - half, diff + half), reject=p_value <= alpha)
    return out


def msprt_path(cumulative: Iterable[tuple[int, int, int, int]], **kwargs: Any) -> dict[str, Any]:
    """Run :func:`msprt` at each look (cumulative ``(clicks_a, n_a, clicks_b, n_b)``); the always-valid
    p-value is the running minimum and the confidence sequence the running intersection."""
    p_run = 1.0
    lo, hi = -math.inf, math.inf
    last: dict[str, Any] = {"state": NOT_ENOUGH_DATA}
    looks = 0
    for ca, na, cb, nb in cumulative:
        r = msprt(ca, na, cb, nb, **kwargs)
        if r["state"] != OK:
            continue
        looks += 1
        last = r
        p_run = min(p_run, r["p_value"])
        lo, hi = max(lo, r["ci_diff"][0]), min(hi, r["ci_diff"][1])
    if looks == 0:
        return {**last, "looks": 0}
    return {**last, "looks": looks, "p_value": p_run, "ci_diff": (lo, hi),
            "reject": p_run <= last["alpha"]}
