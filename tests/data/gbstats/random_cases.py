"""Random cases for the differential test against gbstats itself (tests/gbstats.rs).

    python3 tests/data/gbstats/random_cases.py SEED COUNT

prints COUNT cases in the shape of vectors.json (README.md beside this file), each computed by
the installed gbstats (PyPI, installed by .ci/bootstrap): random sufficient statistics —
binomial and mean metrics, 2 or 3 arms (each variation against the first), n from 10 to 10^6
(log-uniform) — through gbstats' two-sided, one-sided and sequential t-tests and its Bayesian
effect test, and random user counts through its SRM check. Deterministic for a seed.
One deliberate difference: the upper bound of a one-sided "lesser" interval (see below).
"""

import json
import math
import random
import sys

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    OneSidedTreatmentGreaterTTest,
    OneSidedTreatmentLesserTTest,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from gbstats.utils import check_srm
from scipy.stats import t as tdist


def num(x):
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if math.isnan(x):
        return "nan"
    return x


def arm(rng, kind, base):
    n = int(round(10 ** rng.uniform(1, 6)))
    if kind == "proportion":
        rate = min(0.95, max(0.005, base * rng.uniform(0.8, 1.25)))
        k = min(n, max(1, int(round(n * rate * rng.uniform(0.9, 1.1)))))
        return {"type": "proportion", "n": n, "sum": k}
    mean = base * rng.uniform(0.8, 1.25)
    sd = mean * rng.uniform(0.5, 5.0)
    s = n * mean
    ss = (n - 1) * sd * sd + s * s / n
    return {"type": "sample_mean", "n": n, "sum": s, "sum_squares": ss}


def stat(a):
    if a["type"] == "proportion":
        return ProportionStatistic(n=a["n"], sum=a["sum"])
    return SampleMeanStatistic(n=a["n"], sum=a["sum"], sum_squares=a["sum_squares"])


def frequentist(rng, a, b):
    test = rng.choice(["two_sided", "two_sided", "one_sided_greater", "one_sided_lesser", "sequential_two_sided"])
    config = {"engine": "frequentist", "test": test, "difference_type": rng.choice(["relative", "absolute"]),
              "alpha": rng.choice([0.05, 0.1, 0.01])}
    common = dict(difference_type=config["difference_type"], alpha=config["alpha"])
    if test == "sequential_two_sided":
        config["sequential_tuning_parameter"] = rng.choice([5000, 1000, 20000])
        t = SequentialTwoSidedTTest(stat(a), stat(b), SequentialConfig(**common, sequential_tuning_parameter=config["sequential_tuning_parameter"]))
    else:
        cls = {"two_sided": TwoSidedTTest, "one_sided_greater": OneSidedTreatmentGreaterTTest,
               "one_sided_lesser": OneSidedTreatmentLesserTTest}[test]
        t = cls(stat(a), stat(b), FrequentistConfig(**common))
    r = t.compute_result()
    ref = {"expected": num(r.expected), "ci": [num(x) for x in r.ci], "uplift_stddev": num(r.uplift.stddev),
           "p_value": num(r.p_value), "error_message": r.error_message}
    if r.error_message is None and test == "one_sided_lesser":
        # gbstats 0.8.0 bounds this interval above by estimate - width, which excludes its own
        # estimate; Vitrine (and the test) use estimate + width, from gbstats' own quantile and
        # variance. gbstats' bound is kept beside it.
        width = tdist.ppf(1 - config["alpha"], t.dof) * math.sqrt(t.variance)
        ref["gbstats_ci"] = ref["ci"]
        ref["ci"] = [num(-math.inf), num(r.expected + width)]
    if r.error_message is None:
        ref["dof"] = num(t.dof)
        if test == "sequential_two_sided":
            ref["N_total"] = a["n"] + b["n"]
    return config, ref


def bayesian(rng, a, b):
    prior = {"mean": 0, "variance": rng.choice([1, 0.3]), "proper": rng.random() < 0.5}
    config = {"engine": "bayesian", "difference_type": rng.choice(["relative", "absolute"]),
              "alpha": rng.choice([0.05, 0.1]), "inverse": rng.random() < 0.2, "prior_type": "relative", "prior": prior}
    t = EffectBayesianABTest(stat(a), stat(b), EffectBayesianConfig(
        difference_type=config["difference_type"], alpha=config["alpha"], inverse=config["inverse"],
        prior_type="relative", prior_effect=GaussianPrior(**prior)))
    r = t.compute_result()
    return config, {"expected": num(r.expected), "ci": [num(x) for x in r.ci], "uplift_stddev": num(r.uplift.stddev),
                    "chance_to_win": num(r.chance_to_win), "risk": [num(x) for x in r.risk],
                    "error_message": r.error_message}


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    cases = []
    while len(cases) < count:
        i = len(cases)
        if rng.random() < 0.1:
            k = rng.choice([2, 3])
            users = [int(round(10 ** rng.uniform(1, 6))) for _ in range(k)]
            if rng.random() < 0.5:
                users = [users[0] + rng.randint(-3, 3) * int(math.sqrt(users[0])) for _ in range(k)]
            users = [max(0, u) for u in users]
            weights = [1 / k] * k if rng.random() < 0.7 else [0.5] + [0.5 / (k - 1)] * (k - 1)
            cases.append({"name": f"random_{seed}_{i}_srm", "kind": "srm", "inputs": {"users": users, "weights": weights},
                          "reference_full_precision": {"ts_checkSrm": num(check_srm(users, weights))}})
            continue
        kind = rng.choice(["proportion", "sample_mean"])
        base = rng.uniform(0.02, 0.6) if kind == "proportion" else rng.uniform(1, 200)
        arms = [arm(rng, kind, base) for _ in range(rng.choice([2, 2, 3]))]
        for j, b in enumerate(arms[1:], 1):
            engine = bayesian if rng.random() < 0.4 else frequentist
            config, ref = engine(rng, arms[0], b)
            cases.append({"name": f"random_{seed}_{i}_v{j}_{config.get('test', 'bayesian')}_{config['difference_type']}_{kind}",
                          "kind": "random", "inputs": {"control": arms[0], "treatment": b, "config": config},
                          "reference_full_precision": ref})
    json.dump(cases[:count], sys.stdout)


main()
