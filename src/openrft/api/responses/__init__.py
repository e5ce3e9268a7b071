"""POST /v1/responses: OpenAI's Responses API for inference, built on the chat completion path."""
