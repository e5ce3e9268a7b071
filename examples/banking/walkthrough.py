"""Banking answers on three criteria, end to end against a running openrft server (openai SDK + boto3 only).

Deploys reward/ as the Lambda function `banking-answer-reward`, uploads data/, trains
smollm2-135m-instruct with RFT graded by that Lambda (or, with --multi-grader, by the `multi` grader of
multi_grader.json), prints the reward and each criterion per step, then compares the base and the
fine-tuned model on the held-out prompts (greedy decoding, scored by the deployed Lambda).

    export OPENRFT_API_KEY=...   OPENRFT_KEY_ID=admin   # OPENRFT_BASE_URL=http://127.0.0.1:8000
    python examples/banking/walkthrough.py [--multi-grader] [--hyperparameters '{"n_epochs": 2}']
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import rft_walkthrough

HERE = Path(__file__).resolve().parent
HYPERPARAMETERS = {
    "n_epochs": 2,
    "batch_size": 8,
    "samples_per_prompt": 8,
    "max_completion_tokens": 64,
    "eval_interval": 5,
    "eval_samples": 26,
    "learning_rate_multiplier": 10.0,  # x 1e-4 (LoRA): 1.0 barely moves a 135M model in one epoch
}
# Never part of the reward (guard_grader.json): how close each answer is to the one a banker would sign
# (make_data.py), scored on the validation set at every evaluation: the monitor warns when the reward rises
# while it falls.
GUARD = json.loads((HERE / "guard_grader.json").read_text())

if __name__ == "__main__":
    parser = rft_walkthrough.parser(__doc__.splitlines()[0], HYPERPARAMETERS)
    parser.add_argument("--multi-grader", action="store_true", help="grade with multi_grader.json instead")
    parser.add_argument("--reward-folder", default="reward", help="reward_v1 reproduces the run it taught to cheat")
    args = parser.parse_args()
    args.folder = HERE
    rft_walkthrough.main(
        args,
        function_name="banking-answer-reward",
        description="Banking example: disclaimer, positioning, fit to the customer profile",
        hyperparameters=HYPERPARAMETERS,
        metric_names=["verdict", "disclaimer", "positioning", "goal", "repetition", "unsuitable_recommendation"]
        if args.reward_folder == "reward"
        else ["disclaimer", "positioning", "profile_fit", "unsuitable_recommendation"],
        grader=json.loads((HERE / "multi_grader.json").read_text()) if args.multi_grader else None,
        guard_graders=[GUARD],
    )
