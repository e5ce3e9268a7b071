"""Write data/train.jsonl and data/valid.jsonl of the banking example from the tables below.

A prompt pairs one product of a (made-up) bank with one customer: the assistant sees the product
sheet and the customer's profile, and must position the product, judge its fit and add the regulatory
warning. Every product x customer pair appears once; the pairs with (product + customer) % 6 == 0 are
held out for validation, so validation asks about products and customers seen in training, in pairs
never seen. Question wordings rotate deterministically: running it twice writes the same bytes.

    python examples/banking/make_data.py
"""

from __future__ import annotations

import json
from pathlib import Path

SYSTEM = (
    "You are the customer assistant of Harbor & Beacon Bank. In two or three sentences: state the "
    "product's key benefit, say whether it is suitable or not suitable for the customer's risk profile "
    'and goal, and end with the required warning: "Capital at risk." for investment products, '
    '"This is not financial advice." for all other products.'
)
INVESTMENT = "capital at risk"
OTHER = "not financial advice"
RISK_ORDER = {"low": 0, "medium": 1, "high": 2}
TOLERANCE = {"conservative": "low", "balanced": "medium", "adventurous": "high"}

# name, kind, risk, key benefit (the positioning the bank wants named), required warning
PRODUCTS: list[tuple[str, str, str, str, str]] = [
    ("Harbor Easy Saver", "instant-access savings account", "low", "instant access", OTHER),
    ("Harbor Fixed Rate Bond", "two-year fixed-rate savings bond", "low", "guaranteed fixed rate", OTHER),
    ("Harbor Regular Saver", "monthly regular savings account", "low", "bonus interest", OTHER),
    ("Harbor 95-Day Notice Account", "notice savings account", "low", "higher interest", OTHER),
    ("Beacon Bond Income Fund", "investment-grade bond fund", "medium", "regular income", INVESTMENT),
    ("Beacon Balanced Fund", "multi-asset investment fund", "medium", "diversification", INVESTMENT),
    ("Beacon Pension Builder", "personal pension invested in a managed fund", "medium", "tax relief", INVESTMENT),
    ("Beacon Property Income Fund", "commercial property fund", "medium", "rental income", INVESTMENT),
    ("Beacon Global Equity Fund", "global equity fund", "high", "long-term growth", INVESTMENT),
    ("Beacon Index Tracker", "passive world stock index fund", "high", "low fees", INVESTMENT),
    ("Beacon Emerging Markets Fund", "emerging-markets equity fund", "high", "growth potential", INVESTMENT),
    ("Beacon Tech Leaders Fund", "technology equity fund", "high", "technology exposure", INVESTMENT),
]

# risk profile, goal, what the customer says
CUSTOMERS: list[tuple[str, str, str]] = [
    ("conservative", "retirement income", "I'm 62, retiring in three years, and I can't afford to lose my savings."),
    ("conservative", "house deposit", "We're saving for a house deposit that we'll need in about two years."),
    ("conservative", "emergency fund", "I want a safety net I can reach quickly if my boiler or car breaks down."),
    ("conservative", "wedding", "My partner and I are getting married next summer and are putting money aside."),
    ("conservative", "new car", "I need to replace my car in about eighteen months."),
    ("conservative", "preserving capital", "I'm retired, I live off my savings and I'm very cautious."),
    ("balanced", "university fees", "We want to pay for our children's university in about ten years."),
    ("balanced", "pension", "I'm 45 and building my pension pot; some ups and downs are fine."),
    ("balanced", "extra income", "I'd like my savings to pay me something each year without wild swings."),
    ("balanced", "growth over ten years", "I'm 40 and want my savings to grow over a decade at moderate risk."),
    ("adventurous", "retirement", "I'm 34, retirement is thirty years away and I can ride out market falls."),
    ("adventurous", "long-term wealth", "I'm 27, I invest for the long run and I'm comfortable with high risk."),
    ("adventurous", "early retirement", "I want to retire at 55 and I accept big swings to get there."),
]

QUESTIONS = [
    "Should I put my money in the {product}?",
    "Is the {product} right for me?",
    "Can you tell me about the {product}?",
    "Would you recommend the {product} for me?",
    "I'm thinking about the {product}. What do you think?",
    "How would the {product} fit my plans?",
    "What can the {product} do for me?",
]


def row(p: int, c: int) -> dict:
    product, kind, risk, benefit, disclaimer = PRODUCTS[p]
    profile, goal, says = CUSTOMERS[c]
    suitable = RISK_ORDER[risk] <= RISK_ORDER[TOLERANCE[profile]]
    question = QUESTIONS[(p * len(CUSTOMERS) + c) % len(QUESTIONS)].format(product=product)
    user = (
        f"Product sheet: {product}, a {kind}. Risk level: {risk}. Key benefit: {benefit}.\n"
        f"Customer profile: {profile} investor, goal: {goal}.\n"
        f"Customer: {says} {question}"
    )
    return {
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        "product": product,
        "product_risk": risk,
        "key_benefit": benefit,
        "disclaimer": disclaimer,
        "risk_profile": profile,
        "goal": goal,
        "verdict": "suitable" if suitable else "not suitable",
        "reference_answer": reference_answer(product, benefit, profile, goal, suitable, disclaimer),
    }


def reference_answer(product: str, benefit: str, profile: str, goal: str, suitable: bool, disclaimer: str) -> str:
    """The answer a banker would sign: what the guard grader compares the model's answer with (never the reward)."""
    fit = "suitable" if suitable else "not suitable"
    warning = "Capital at risk." if disclaimer == INVESTMENT else "This is not financial advice."
    return f"The {product} offers {benefit}. For your {goal}, it is {fit} for a {profile} investor. {warning}"


def build() -> tuple[list[dict], list[dict]]:
    train: list[dict] = []
    valid: list[dict] = []
    for p in range(len(PRODUCTS)):
        for c in range(len(CUSTOMERS)):
            (valid if (p + c) % 6 == 0 else train).append(row(p, c))
    return train, valid


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    data = Path(__file__).parent / "data"
    data.mkdir(exist_ok=True)
    train, valid = build()
    write_jsonl(data / "train.jsonl", train)
    write_jsonl(data / "valid.jsonl", valid)
    print(f"wrote {len(train)} training and {len(valid)} validation prompts to {data}")


if __name__ == "__main__":
    main()
