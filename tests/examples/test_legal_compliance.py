"""The GDPR citation example: its reward function scored by hand, and its walkthrough's warm start."""

import pytest

from tests.conftest import LiveServer
from tests.examples.loader import EXAMPLES, load_example_module

reward = load_example_module("legal_compliance", "reward/lambda_function.py")


def sample(answer: str, article: str = "17", accepted: list[str] | None = None, sid: str = "s1") -> dict:
    fields = {"article": article, "accepted_articles": accepted or [article], "topic": "erasure"}
    return {
        "id": sid,
        "messages": [
            {"role": "system", "content": "Answer in one sentence citing the GDPR article."},
            {"role": "user", "content": "A former customer asks us to delete all their data; which article?"},
            {"role": "assistant", "content": answer},
        ],
        **fields,
        "metadata": dict(fields),
    }


def words(n: int, lead: str = "Article 17") -> str:
    return " ".join([lead, *["word"] * (n - len(lead.split()))])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Article 17 gives the right to erasure.", 1.0),  # 0.8 + 0.2 * 1
        ("Under Art. 17(1)(d) GDPR the data must be erased.", 1.0),
        ("article 17", 1.0),  # case-insensitive
        ("", 0.0),  # nothing cited: no brevity bonus either
        ("You can ask us to delete it.", 0.0),
        ("Article 15 applies.", 0.0),  # same chapter (III), still wrong: 0.2 - 0.5, clipped at 0
        ("Articles 15 and 17 apply.", 0.5),  # 0.8 + 0.2 - 0.5
        ("Article 33 applies.", 0.0),  # another chapter (IV): 0.2 - 0.5, clipped at 0
        ("Articles 33 and 17 apply.", 0.5),  # 0.8 + 0.2 - 0.5
        ("Articles 15 and 33 apply.", 0.0),  # 0.2 - 0.5, clipped
        ("Article 17, within 30 days.", 1.0),  # "30 days" is not a citation
        (words(46), 0.8 + 0.2 * (1 - 11 / 55)),  # 46 words: brevity 1 - (46 - 35) / 55 = 0.8
        (words(90), 0.8),  # brevity 0
        (words(120), 0.8),
    ],
)
def test_scores_worked_by_hand(answer: str, expected: float) -> None:
    [result] = reward.lambda_handler([sample(answer)], None)
    assert result["id"] == "s1"
    assert result["aggregate_reward_score"] == pytest.approx(expected, abs=1e-6)


def test_metrics_list_names_each_criterion() -> None:
    [result] = reward.lambda_handler([sample("Articles 33 and 17 apply.")], None)
    metrics = {m["name"]: (m["value"], m["type"]) for m in result["metrics_list"]}
    assert metrics == {
        "citation_correct": (1.0, "Reward"),
        "wrong_citation": (1.0, "Metric"),
        "brevity": (1.0, "Metric"),
        "right_chapter": (1.0, "Metric"),  # 17 is Chapter III
    }
    [neighbour] = reward.lambda_handler([sample("Article 15 applies.")], None)
    assert {m["name"]: m["value"] for m in neighbour["metrics_list"]}["right_chapter"] == 1.0
    [unrelated] = reward.lambda_handler([sample("Article 33 applies.")], None)
    assert {m["name"]: m["value"] for m in unrelated["metrics_list"]}["right_chapter"] == 0.0


CHAPTERS = [("1", 1), ("4", 1), ("5", 2), ("11", 2), ("12", 3), ("23", 3), ("24", 4), ("43", 4), ("44", 5)]
CHAPTERS += [("50", 5), ("51", 6), ("77", 8), ("84", 8), ("99", 11)]


@pytest.mark.parametrize(("article", "chapter"), CHAPTERS)
def test_chapters(article: str, chapter: int) -> None:
    assert reward.chapter(article) == chapter


def test_accepted_articles_all_earn_full_credit() -> None:
    dpo = ["37", "38", "39"]
    results = reward.lambda_handler(
        [sample(f"See Article {a}.", "37", dpo, sid=a) for a in ("37", "38", "39", "40")], None
    )
    assert [r["aggregate_reward_score"] for r in results] == pytest.approx([1.0, 1.0, 1.0, 0.0])  # 40: not accepted


@pytest.mark.parametrize(
    ("answer", "cited"),
    [
        ("Art 5 and Art. 6(1)(f)", {"5", "6"}),
        ("arts 44-49", {"44", "49"}),
        ("Article 33: notify within 72 hours", {"33"}),
        ("Article 83, 4% of turnover", {"83"}),
        ("part 3 of the start", set()),
        ("Article 120", set()),  # the GDPR has 99 articles
    ],
)
def test_cited_articles(answer: str, cited: set[str]) -> None:
    assert reward.cited_articles(answer) == cited


def test_fields_read_from_metadata_when_absent_at_top_level() -> None:
    event = sample("Article 17.")
    del event["article"], event["accepted_articles"]
    [result] = reward.lambda_handler([event], None)
    assert result["aggregate_reward_score"] == 1.0


def test_a_malformed_sample_scores_zero_without_failing_the_batch() -> None:
    missing = sample("Article 17.", sid="missing")
    del missing["article"], missing["metadata"]["article"]
    no_messages = {"id": "empty", "article": "17"}
    bad_content = sample("x", sid="parts")
    bad_content["messages"][-1]["content"] = [{"type": "text", "text": "Article 17"}]
    results = reward.lambda_handler([missing, no_messages, bad_content, sample("Article 17.", sid="ok")], None)
    assert [(r["id"], r["aggregate_reward_score"]) for r in results] == [
        ("missing", 0.0),
        ("empty", 0.0),
        ("parts", 0.0),
        ("ok", 1.0),
    ]


def test_walkthrough_creates_the_supervised_warm_start_job(live_server: LiveServer) -> None:
    """The walkthrough's first job, through the openai SDK: a supervised job on the demonstrations, with
    the walkthrough's hyperparameters, stays queued on a server without a worker."""
    walkthrough = load_example_module("legal_compliance", "walkthrough.py")
    args = walkthrough.rft_walkthrough.parser("test", {}).parse_args(
        ["--base-url", live_server.base_url, "--api-key", live_server.admin_key]
    )
    args.folder = EXAMPLES / "legal_compliance"
    client = walkthrough.rft_walkthrough.openai_client(args)
    job = client.fine_tuning.jobs.retrieve(
        walkthrough.create_supervised_job(client, args, walkthrough.SFT_HYPERPARAMETERS)
    )
    assert job.status == "queued"
    assert job.model == "smollm2-135m-instruct"
    assert job.method is not None and job.method.type == "supervised"
    assert job.method.supervised is not None
    hp = job.method.supervised.hyperparameters
    assert hp is not None and (hp.n_epochs, hp.batch_size) == (2, 8)
    assert client.files.retrieve(job.training_file).filename == "sft_train.jsonl"
