"""The playground: one prompt answered by the base model and the fine-tuned model side by side, streamed."""

from __future__ import annotations

from urllib.parse import quote

from tests.browser.conftest import Console
from tests.e2e.conftest import wait_for

COUNT_UPDATES = """() => {
  window.updates = {left: 0, right: 0};
  for (const side of ["left", "right"]) {
    const out = document.querySelector(`#answer-${side} [data-out]`);
    const count = () => { window.updates[side] += 1; };
    new MutationObserver(count).observe(out, {childList: true, characterData: true, subtree: true});
  }
}"""


def test_base_and_fine_tuned_answer_side_by_side_streamed(console: Console) -> None:
    flow, page = console.flow, console.page
    project = flow.project("playground")
    client = flow.client(project)
    job = flow.create_job(client, flow.deploy_reward(project), model="tiny-base", n_train=4)
    done = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=300, what="the fine-tuned model")
    tuned = done.fine_tuned_model
    assert tuned

    page.context.clear_cookies()  # type: ignore[attr-defined]
    console.sign_in(project.secret)
    console.goto(f"/playground?model={quote(tuned)}")
    assert page.get_by_label("Left model").input_value() == "tiny-base"  # type: ignore[attr-defined]
    assert page.get_by_label("Right model").input_value() == tuned  # type: ignore[attr-defined]
    console.shot("empty")

    page.get_by_label("System message").fill("You are terse.")  # type: ignore[attr-defined]
    page.get_by_label("Prompt (Ctrl+Enter sends)").fill("say hello")  # type: ignore[attr-defined]
    page.get_by_label("Temperature").fill("0")  # type: ignore[attr-defined]
    page.get_by_label("Max tokens").fill("24")  # type: ignore[attr-defined]
    page.evaluate(COUNT_UPDATES)  # type: ignore[attr-defined]
    page.get_by_label("Prompt (Ctrl+Enter sends)").press("Control+Enter")  # type: ignore[attr-defined]
    for side in ("left", "right"):
        page.locator(f"#answer-{side}[data-done='true']").wait_for(timeout=60_000)  # type: ignore[attr-defined]

    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "say hello"}]
    for side, model in (("left", "tiny-base"), ("right", tuned)):
        shown = page.locator(f"#answer-{side} [data-out]").inner_text()  # type: ignore[attr-defined]
        meta = page.locator(f"#answer-{side} [data-meta]").inner_text()  # type: ignore[attr-defined]
        # greedy decoding: the streamed answer is the one the API gives without streaming
        expected = client.chat.completions.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]
            temperature=0,
            max_completion_tokens=24,
        )
        text = expected.choices[0].message.content or ""
        assert shown == (text or "(an empty answer)")
        assert f"finished: {expected.choices[0].finish_reason}" in meta
        assert f"{expected.usage.completion_tokens} tokens" in meta  # type: ignore[union-attr]
    updates = page.evaluate("window.updates")  # type: ignore[attr-defined]
    assert max(updates.values()) > 2, updates  # the text arrived in pieces, not at once
    console.shot("answered")


def test_an_unknown_model_in_the_link_is_explained(console: Console) -> None:
    console.goto("/playground?model=ft:gone")
    text = console.page.inner_text("main")  # type: ignore[attr-defined]
    assert "There is no model ft:gone in this project" in text
    console.shot("unknown-model")
