"""Rollout signals on texts small enough to count by hand."""

import pytest

from openrft.training import signals


def test_normalize_answer_lowercases_collapses_whitespace_and_strips_trailing_punctuation():
    assert signals.normalize_answer("  Billing.  ") == "billing"
    assert signals.normalize_answer("Not\n  financial   advice!?") == "not financial advice"
    assert signals.normalize_answer("...") == ""


def test_words_split_on_punctuation_and_keep_apostrophes():
    assert signals.words("Capital at risk. It's NOT advice!") == ["capital", "at", "risk", "it's", "not", "advice"]


def test_groups_must_divide_evenly():
    assert signals.groups(["a", "b", "c", "d"], 2) == [["a", "b"], ["c", "d"]]
    with pytest.raises(ValueError):
        signals.groups(["a", "b", "c"], 2)


def test_distinct_within_groups():
    grouped = [["Billing", "billing.", "BILLING", "technical"], ["a", "b", "c", "d"]]
    # group 1: {billing, technical} = 2 of 4 = 0.5; group 2: 4 of 4 = 1.0; mean 0.75
    assert signals.distinct_within_groups(grouped) == 0.75


def test_distinct_across_prompts_takes_each_groups_most_common_answer():
    grouped = [["billing", "billing", "shipping"], ["Billing.", "account", "billing"], ["account", "shipping", "x"]]
    # modes: billing (2 of 3), billing (2 of 3), account (a three-way tie: the first sampled) -> {billing, account}
    # 2 distinct / 3 prompts
    assert signals.distinct_across_prompts(grouped) == pytest.approx(2 / 3)


def test_one_answer_for_every_prompt_gives_one_over_the_prompt_count():
    grouped = [["Billing"] * 4 for _ in range(4)]
    assert signals.distinct_across_prompts(grouped) == 0.25
    assert signals.distinct_within_groups(grouped) == 0.25


def test_repeated_ngram_share():
    # "a b c a b c": 3-grams abc, bca, cab, abc -> 1 of 4 repeats an earlier one
    assert signals.repeated_ngram_share("a b c a b c") == 0.25
    # the banking example's stuffing: 7 + 5 + 7 = 19 words, 17 3-grams
    text = (
        "Capital at risk is not financial advice. This is not financial advice. "
        "Capital at risk is not financial advice."
    )
    # 3-grams 1-8 are new; 9 (is not financial) and 10 (not financial advice) repeat 4 and 5; 11 (financial advice
    # capital) and 12 (advice capital at) are new; 13-17 repeat 1-5: 2 + 5 = 7 of 17
    assert signals.repeated_ngram_share(text) == pytest.approx(7 / 17)
    assert signals.repeated_ngram_share("two words") == 0.0  # no 3-gram at all


def test_repeated_ngram_rate_counts_short_completions_as_zero():
    # 0.25 (above), 0.0 (two words), 0.0 (no repeat) -> mean 0.25 / 3
    assert signals.repeated_ngram_rate(["a b c a b c", "Billing now", "one two three four"]) == pytest.approx(0.25 / 3)
    assert signals.repeated_ngram_rate([]) == 0.0


def test_cross_prompt_phrase_share():
    grouped = [
        ["This is not financial advice. Buy bonds.", "Hold."],
        ["Sell. This is not financial advice", "no"],
        ["Savings accounts are safe", "this is not financial"],
        ["Billing", "shipping"],
    ]
    # 4-gram "this is not financial": in a completion of prompts 1, 2 and 3 (at least one each) -> 3 of 4
    assert signals.cross_prompt_phrase_share(grouped) == 0.75


def test_cross_prompt_phrase_share_counts_a_prompt_once_and_needs_two_prompts():
    same = "one two three four"
    # the phrase twice within prompt 1 still counts prompt 1 once: 1 of 2 prompts
    assert signals.cross_prompt_phrase_share([[same, same], ["five six seven eight", "x"]]) == 0.5
    assert signals.cross_prompt_phrase_share([[same, same]]) == 0.0  # one prompt: nothing to compare
    assert signals.cross_prompt_phrase_share([["a b c"], ["a b c"]]) == 0.0  # no 4-gram anywhere


def test_rollout_signals_of_a_collapsed_step():
    texts = ["Billing"] * 8  # 4 prompts x 2 samples, all "Billing"
    assert signals.rollout_signals(texts, 2) == {
        "distinct_within_groups": 0.5,  # 1 of 2 per group
        "distinct_across_prompts": 0.25,  # 1 answer for 4 prompts
        "repeated_ngram_rate": 0.0,  # one word: no 3-gram
        "cross_prompt_phrase_share": 0.0,  # no 4-gram
        "similarity_within_groups": 1.0,  # every pair shares its one word
        "similarity_across_prompts": 1.0,
    }


def test_word_set_similarity_is_jaccard():
    # {billing} vs {billing, ticketing, on}: 1 shared of 3
    assert signals.word_set_similarity("Billing: billing", "Billing ticketing on billing.") == pytest.approx(1 / 3)
    assert signals.word_set_similarity("", "") == 1.0
    assert signals.word_set_similarity("a b", "c d") == 0.0


def test_similarities_within_and_across_prompts():
    # prompt 1: "billing a", "billing b"; prompt 2: "billing c", "billing a"
    grouped = [["billing a", "billing b"], ["billing c", "billing a"]]
    # within: (a,b) 1/3, (c,a) 1/3 -> 1/3
    assert signals.similarity_within_groups(grouped) == pytest.approx(1 / 3)
    # across: (a,c) 1/3, (a,a) 1, (b,c) 1/3, (b,a) 1/3 -> (1/3 * 3 + 1) / 4 = 0.5
    assert signals.similarity_across_prompts(grouped) == pytest.approx(0.5)
