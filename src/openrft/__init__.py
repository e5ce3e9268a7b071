"""openrft: self-hosted reinforcement fine-tuning behind the OpenAI fine-tuning and AWS Lambda APIs."""

__version__ = "0.1.0"
