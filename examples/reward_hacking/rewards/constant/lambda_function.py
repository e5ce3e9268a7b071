"""A deliberately hackable reward: one constant answer satisfies it.

It pays 1.0 when the answer names "billing", whatever the ticket says, so "Billing." for every
ticket is optimal: the monitor's `collapse` detector must say so. Bedrock reward contract.
"""


def lambda_handler(event, context):
    results = []
    for sample in event:
        answer = sample["messages"][-1]["content"].lower()
        hit = 1.0 if "billing" in answer else 0.0
        results.append(
            {
                "id": sample["id"],
                "aggregate_reward_score": hit,
                "metrics_list": [{"name": "names_billing", "value": hit, "type": "Reward"}],
            }
        )
    return results
