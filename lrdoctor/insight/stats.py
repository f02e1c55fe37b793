"""Small-sample statistics for a sweep: Fisher's exact test and a permutation test over splits.

A sweep is a few dozen runs, often a handful; asymptotic tests (chi-square) are wrong there.
Fisher's exact test is exact for one 2x2 table (sick or not x inside or outside a split) with
its margins fixed, and fits in a few lines of numpy: scipy would be a 40 MB dependency for it.
A setting with several values offers several splits; taking the best of them is a search,
and its p-value is then judged against the same search on shuffled verdicts (a permutation
test), so a setting with many values is not favoured for having many chances.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

# Two probabilities this close are the same table's: float sums of the same terms differ by ulps.
_TIE = 1 + 1e-7
EXACT_LIMIT = 20_000  # labellings enumerated exactly up to this many; above, sampled
EXACT_MAX_RUNS = 200  # and only for sweeps this small (one sick run in 20,000 is 20,000 labellings too)
CHUNK = 5_000  # labellings per block
CHUNK_VALUES = 2_000_000  # runs x labellings per sampled block: 8 MB
PERMUTATIONS = 4_999  # sampled labellings: a p-value resolves down to 1/5000
PERMUTATION_SEED = 20_260_101  # the same sweep always gives the same p-value


def hypergeometric(total: int, sick: int, group: int) -> np.ndarray:
    """P(x sick runs in a group of ``group`` runs) for x = 0..group, when ``sick`` of ``total``
    runs are sick and the group is drawn at random."""
    x = np.arange(group + 1)
    possible = (x <= sick) & (group - x <= total - sick)
    log_p = np.full(group + 1, -np.inf)
    xs = x[possible]
    log_p[possible] = [
        _log_choose(sick, int(k)) + _log_choose(total - sick, group - int(k)) - _log_choose(total, group) for k in xs
    ]
    return np.exp(log_p)


def fisher_table(total: int, sick: int, group: int) -> np.ndarray:
    """Two-sided Fisher p-value for each possible count x = 0..group of sick runs in the group:
    the probability of every table at most as likely as the one seen."""
    probabilities = hypergeometric(total, sick, group)
    order = np.sort(probabilities)
    cumulative = np.cumsum(order)
    at_most = np.searchsorted(order, probabilities * _TIE, side="right")
    p = np.where(at_most > 0, cumulative[np.maximum(at_most - 1, 0)], 0.0)
    return np.minimum(p, 1.0)


def fisher_exact(sick_in: int, runs_in: int, sick_out: int, runs_out: int) -> float:
    """Two-sided p of Fisher's exact test for sick_in/runs_in against sick_out/runs_out."""
    return float(fisher_table(runs_in + runs_out, sick_in + sick_out, runs_in)[sick_in])


def best_possible(total: int, sick: int, group: int) -> float:
    """The smallest p any table with these margins can give: when even this is over the level,
    no split of this size could show anything, however cleanly it separated."""
    return float(fisher_table(total, sick, group)[hypergeometric(total, sick, group) > 0].min())


def min_p_permutation(splits: np.ndarray, sick: np.ndarray) -> tuple[float, int, str]:
    """The best split of one setting and its p-value corrected for the search over splits.

    ``splits`` is (number of splits) x (runs), True inside each split; ``sick`` one bool per
    run. Returns (p, index of the best split, how p was computed). One split: Fisher's exact p.
    Several: the share of labellings of the runs (the same number sick) whose best split is at
    least as good as the one seen; all of them when there are few, else a seeded sample."""
    splits = np.asarray(splits, dtype=bool)
    sick = np.asarray(sick, dtype=bool)
    total, n_sick = sick.size, int(sick.sum())
    sizes = splits.sum(axis=1)
    tables = [fisher_table(total, n_sick, int(size)) for size in sizes]
    seen = np.array([tables[i][int((splits[i] & sick).sum())] for i in range(len(splits))])
    best = int(np.argmin(seen))
    if len(splits) == 1:
        return float(seen[0]), 0, "Fisher's exact test"
    labellings = math.comb(total, n_sick)
    exact = labellings <= EXACT_LIMIT and total <= EXACT_MAX_RUNS
    if exact:
        how = f"exact permutation test, {len(splits)} splits, all {labellings} labellings"
        chunks = _all_labellings(total, n_sick)
    else:
        how = f"permutation test, {len(splits)} splits, {PERMUTATIONS} shuffles"
        chunks = _sampled_labellings(total, n_sick)
    members = splits.astype(np.float32)  # counts of at most a few thousand runs are exact in float32
    as_good = drawn = 0
    for labels in chunks:  # runs x labellings, a chunk at a time: a sweep of thousands stays small
        counts = np.rint(members @ labels).astype(np.int64)  # sick runs inside each split
        null = np.full(labels.shape[1], np.inf)
        for i, table in enumerate(tables):
            null = np.minimum(null, table[counts[i]])
        as_good += int(np.count_nonzero(null <= seen[best] * _TIE))
        drawn += labels.shape[1]
    extra = 0 if exact else 1  # a sampled test counts the labelling seen among its draws
    p = (as_good + extra) / (drawn + extra)
    return float(min(p, 1.0)), best, how


def _all_labellings(total: int, n_sick: int):
    combinations = itertools.combinations(range(total), n_sick)
    while True:
        block = list(itertools.islice(combinations, CHUNK))
        if not block:
            return
        labels = np.zeros((total, len(block)), dtype=np.float32)
        for column, chosen in enumerate(block):
            labels[list(chosen), column] = 1
        yield labels


def _sampled_labellings(total: int, n_sick: int):
    rng = np.random.default_rng(PERMUTATION_SEED)
    left = PERMUTATIONS
    while left > 0:
        size = min(left, max(1, CHUNK_VALUES // total))
        base = np.tile(np.arange(total) < n_sick, (size, 1))
        yield rng.permuted(base, axis=1).T.astype(np.float32)  # each column: n_sick runs, shuffled
        left -= size


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down correction: several settings tested on one sweep, one of them would
    pass a 0.05 test by chance one time in 1 - 0.95^k."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
