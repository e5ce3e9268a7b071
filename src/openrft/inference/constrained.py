"""JSON-constrained decoding with lm-format-enforcer (response_format json_object / json_schema).

lm-format-enforcer's own transformers integration imports names transformers 5 removed, so the
tokenizer table it needs (`TokenEnforcerTokenizerData`) is built here the way that integration does.
Its object parser (0.11.3) also accepts `}` right after a comma (`{"a": 1,}`, invalid JSON);
`_no_trailing_comma` closes that gap.
"""

from __future__ import annotations

import functools
from typing import Any

from lmformatenforcer import JsonSchemaParser, TokenEnforcer, TokenEnforcerTokenizerData
from lmformatenforcer.characterlevelparser import CharacterLevelParser, SequenceParser, StringParser
from lmformatenforcer.jsonschemaparser import ObjectParsingStage, ObjectParsingState

_allowed_characters = ObjectParsingState.get_allowed_characters


def _no_trailing_comma(self: ObjectParsingState) -> str:
    allowed = _allowed_characters(self)
    # Waiting for a key with keys already seen means a comma was just read: a key must follow.
    if self.current_stage == ObjectParsingStage.PARSING_KEY_OR_END and self.existing_keys:
        return allowed.replace("}", "")
    return allowed


ObjectParsingState.get_allowed_characters = _no_trailing_comma


def _decode(tokenizer: Any, tokens: list[int]) -> str:
    return str(tokenizer.decode(tokens)).rstrip("\ufffd")


def build_tokenizer_data(tokenizer: Any) -> TokenEnforcerTokenizerData:
    """Every regular token as (id, text with its leading space, starts-a-word); a few seconds, cache it."""
    vocab_size = len(tokenizer)
    special = set(tokenizer.all_special_ids)
    zero = tokenizer.encode("0", add_special_tokens=False)[-1]
    ids = [i for i in range(vocab_size) if i not in special]
    # Decoding after "0" keeps a word-start token's leading space, which decoding it alone may drop.
    after_zero = tokenizer.batch_decode([[zero, i] for i in ids])
    alone = tokenizer.batch_decode([[i] for i in ids])
    regular = [(i, a[1:], len(a) - 1 > len(b)) for i, a, b in zip(ids, after_zero, alone, strict=True)]
    decode = functools.partial(_decode, tokenizer)
    return TokenEnforcerTokenizerData(regular, decode, tokenizer.eos_token_id, False, vocab_size)


def json_enforcer(
    data: TokenEnforcerTokenizerData, schema: dict[str, Any] | None, prefix: str = "", suffix: str = ""
) -> TokenEnforcer:
    """Allowed next tokens for output that parses as JSON (and matches `schema` when given).

    With `prefix` / `suffix` the output is that literal text, the JSON value, that text (a tool call:
    `<tool_call>[...]</tool_call>`); the sequence can only end once all of it is written.
    """
    parser: CharacterLevelParser = JsonSchemaParser(schema)
    if prefix or suffix:
        parts: list[CharacterLevelParser] = [StringParser(prefix)] if prefix else []
        parts.append(parser)
        if suffix:
            parts.append(StringParser(suffix))
        parser = SequenceParser(parts)
    return TokenEnforcer(data, parser)
