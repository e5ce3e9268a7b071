"""Reward function of the GDPR citation example (AWS Lambda handler, Bedrock reward contract).

The event is a list of samples `{id, messages (the model's answer last), article, accepted_articles,
metadata}`; the answer is a list of `{id, aggregate_reward_score, metrics_list}`. Standard library
only, so the zip is just this file.

The business rule: a compliance answer must cite the article that governs the question, must not cite
a wrong one, and should be one sentence.

    aggregate = clip(0.8 * citation_correct + 0.2 * brevity * cited_any - 0.5 * wrong_citation, 0, 1)
    citation_correct = 1 if an accepted article ("Article 17", "Art. 17(1)", "Articles 15 and 17") is cited, else 0
    wrong_citation   = 1 if any other article is cited, else 0
    brevity          = 1 up to 35 words, falling linearly to 0 at 90 words (0 for an empty answer)
    right_chapter    = 1 if a cited article is in the expected article's GDPR chapter (a metric only)

So: the right article alone, briefly, 1.0; the right one plus another 0.5; a wrong one alone, or no
citation, 0.0. A sample missing its fields scores 0 without failing the batch.

Why no credit for an article of the right chapter (an earlier version gave 0.19 for one): a measured
run (examples/legal_compliance/README.md) found that one constant answer, "Article 28", earned that
credit on the third of the questions whose article is in Chapter IV, and the policy collapsed onto it.
Only the exact article is rewarded now; `right_chapter` still shows whether answers get closer.
"""

import re

BRIEF_WORDS = 35
MAX_WORDS = 90
# "Article 17", "Art. 17(1)(a)", "Articles 15 and 17", "arts 44-49"; list items must not be a duration
# or an amount ("Article 33, 72 hours").
_ITEM = r"\d{1,3}(?!\d)(?!\s*(?:hours?|days?|months?|years?|%|percent|million|employees|euros?))"
CITATION = re.compile(rf"\bart(?:icle)?s?\.?\s*({_ITEM}(?:\s*(?:,|and|or|&|/|-|\u2013|to)\s*{_ITEM})*)", re.IGNORECASE)
GDPR_ARTICLES = range(1, 100)
# The GDPR's eleven chapters, by first article: I general provisions, II principles, III data subject
# rights, IV controller and processor, V transfers, VI supervisory authorities, VII cooperation,
# VIII remedies and penalties, IX specific situations, X delegated acts, XI final provisions.
CHAPTER_STARTS = (1, 5, 12, 24, 44, 51, 60, 77, 85, 92, 94)


def chapter(article: str) -> int:
    return sum(1 for start in CHAPTER_STARTS if int(article) >= start)


def cited_articles(answer: str) -> set[str]:
    """Article numbers cited in `answer`, as strings ("17")."""
    found: set[str] = set()
    for match in CITATION.finditer(answer):
        found.update(str(int(n)) for n in re.findall(r"\d{1,3}", match.group(1)) if int(n) in GDPR_ARTICLES)
    return found


def brevity_score(answer: str) -> float:
    n_words = len(answer.split())
    if n_words == 0:
        return 0.0
    if n_words <= BRIEF_WORDS:
        return 1.0
    return max(0.0, 1.0 - (n_words - BRIEF_WORDS) / (MAX_WORDS - BRIEF_WORDS))


def field(sample: dict, name: str):
    value = sample.get(name)
    if value is None:
        value = (sample.get("metadata") or {}).get(name)
    return value


def answer_text(sample: dict) -> str:
    messages = sample.get("messages") or []
    content = messages[-1].get("content") if messages and isinstance(messages[-1], dict) else ""
    return content if isinstance(content, str) else ""


def score_sample(sample: dict) -> tuple[float, dict[str, float]]:
    """(aggregate, metrics) of one sample; raises KeyError/TypeError/ValueError on a malformed one."""
    article = field(sample, "article")
    if article is None:
        raise KeyError("article")
    accepted = {str(int(article))} | {str(int(a)) for a in field(sample, "accepted_articles") or []}
    answer = answer_text(sample)
    cited = cited_articles(answer)
    correct = 1.0 if cited & accepted else 0.0
    wrong = 1.0 if cited - accepted else 0.0
    right_chapter = 1.0 if any(chapter(a) == chapter(str(article)) for a in cited) else 0.0
    brevity = brevity_score(answer)
    aggregate = 0.8 * correct + 0.2 * brevity * (1.0 if cited else 0.0) - 0.5 * wrong
    metrics = {"citation_correct": correct, "wrong_citation": wrong, "brevity": brevity, "right_chapter": right_chapter}
    return min(1.0, max(0.0, aggregate)), metrics


def lambda_handler(event, context):
    samples = event if isinstance(event, list) else [event]
    results = []
    for i, sample in enumerate(samples):
        sample = sample if isinstance(sample, dict) else {}
        try:
            aggregate, metrics = score_sample(sample)
        except (KeyError, TypeError, ValueError, AttributeError):
            aggregate = 0.0
            metrics = {"citation_correct": 0.0, "wrong_citation": 0.0, "brevity": 0.0, "right_chapter": 0.0}
        results.append(
            {
                "id": str(sample.get("id", i)),
                "aggregate_reward_score": round(aggregate, 6),
                "metrics_list": [
                    {"name": "citation_correct", "value": metrics["citation_correct"], "type": "Reward"},
                    {"name": "wrong_citation", "value": metrics["wrong_citation"], "type": "Metric"},
                    {"name": "brevity", "value": round(metrics["brevity"], 6), "type": "Metric"},
                    {"name": "right_chapter", "value": metrics["right_chapter"], "type": "Metric"},
                ],
            }
        )
    return results
