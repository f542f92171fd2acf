"""Words and tokens: find a word's tokens, align a source and a target prompt (prompt-to-prompt), re-weight words.

Cross-attention fusion needs to know which target token corresponds to which source token:

- **replace** (prompts with the same number of tokens, one word swapped): token i of the target reads the source
  map of token i — ``A_fused = A_src``;
- **refine** (words added or removed): target token j reads source token ``mapper[j]`` when it has one
  (``alpha[j] = 1``) and keeps its own map otherwise — ``A_fused[..., j] = α_j A_src[..., mapper[j]] + (1 − α_j) A_tgt[..., j]``.

The alignment is a longest-common-subsequence over words (``difflib``), mapped to token positions.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import torch


def token_ids(tokenizer, prompt: str) -> list[int]:
    """Token ids with BOS/EOS, without padding."""
    return tokenizer(prompt, truncation=True).input_ids


def word_spans(tokenizer, prompt: str) -> list[tuple[str, list[int]]]:
    """Each whitespace word of ``prompt`` with the positions of its tokens in the padded prompt (BOS is position 0)."""
    spans, pos = [], 1
    for word in prompt.split():
        n = len(tokenizer(word, add_special_tokens=False).input_ids)
        spans.append((word, list(range(pos, pos + n))))
        pos += n
    return spans


def word_token_indices(tokenizer, prompt: str, word: str | int) -> list[int]:
    """Token positions of ``word`` (a word of the prompt, or a token index) — with an error that lists the words."""
    n_tokens = len(token_ids(tokenizer, prompt))
    if isinstance(word, int):
        if not 0 <= word < tokenizer.model_max_length:
            raise ValueError(f"token index {word} is outside 0..{tokenizer.model_max_length - 1}")
        return [word]
    spans = word_spans(tokenizer, prompt)
    hits = [idx for w, idx in spans if w.lower().strip(",.") == str(word).lower()]
    if not hits:
        raise ValueError(f"word {word!r} not in prompt {prompt!r}; words are: "
                         f"{', '.join(w for w, _ in spans)}")
    out = [i for idx in hits for i in idx if i < n_tokens]
    return out


TAILS = ("reference", "from_end")


@dataclass
class Alignment:
    """How target tokens read source tokens in cross-attention fusion."""

    mode: str  # "replace" or "refine"
    mapper: torch.Tensor  # (tokens,) long: target token j reads source token mapper[j]
    alpha: torch.Tensor  # (tokens,) float: 1 where target token j has a source counterpart


def align(tokenizer, source: str, target: str, mode: str = "auto", tail: str = "reference") -> Alignment:
    """Align ``target``'s tokens to ``source``'s: ``replace`` when token counts are equal (or asked), else ``refine``.

    ``tail`` says what the positions after the target's EOS (its padding) read in ``refine``: ``"reference"`` (the
    authors' mapper: position k reads source position k) or ``"from_end"`` (EOS and padding aligned from the end:
    target position n_tgt−1+k reads source position n_src−1+k). They differ when the token counts differ
    (docs/reference_parity.md measures it).
    """
    if tail not in TAILS:
        raise ValueError(f"refine tail must be one of {list(TAILS)}, got {tail!r}")
    if mode not in ("auto", "replace", "refine"):
        raise ValueError(f"cross-attention mode must be 'auto', 'replace' or 'refine', got {mode!r}")
    length = tokenizer.model_max_length
    n_src, n_tgt = len(token_ids(tokenizer, source)), len(token_ids(tokenizer, target))
    if mode == "auto":
        mode = "replace" if n_src == n_tgt else "refine"
    if mode == "replace":
        if n_src != n_tgt:
            raise ValueError(f"cross-attention 'replace' needs prompts with the same number of tokens; source has "
                             f"{n_src}, target {n_tgt} (use 'refine' or 'auto')")
        return Alignment("replace", torch.arange(length), torch.ones(length))
    # refine: align words by longest common subsequence; BOS, EOS and padding align by position from the end
    src_spans, tgt_spans = word_spans(tokenizer, source), word_spans(tokenizer, target)
    mapper, alpha = torch.zeros(length, dtype=torch.long), torch.zeros(length)
    mapper[0], alpha[0] = 0, 1.0  # BOS
    sm = difflib.SequenceMatcher(a=[w.lower() for w, _ in src_spans], b=[w.lower() for w, _ in tgt_spans],
                                 autojunk=False)
    for a, b, size in sm.get_matching_blocks():
        for i in range(size):
            s_idx, t_idx = src_spans[a + i][1], tgt_spans[b + i][1]
            for s, t in zip(s_idx, t_idx):
                if t < length and s < length:
                    mapper[t], alpha[t] = s, 1.0
    if tail == "reference":  # EOS reads EOS; every later position k reads source position k
        mapper[n_tgt - 1], alpha[n_tgt - 1] = n_src - 1, 1.0
        mapper[n_tgt:], alpha[n_tgt:] = torch.arange(n_tgt, length), 1.0
    else:  # EOS and pads from the end: target position n_tgt-1+k reads source position n_src-1+k
        for k in range(length - n_tgt + 1):
            t, s = n_tgt - 1 + k, min(n_src - 1 + k, length - 1)
            mapper[t], alpha[t] = s, 1.0
    return Alignment("refine", mapper, alpha)


def reweight_vector(tokenizer, prompt: str, weights: dict[str, float] | None) -> torch.Tensor | None:
    """(tokens,) multipliers for the target's cross-attention columns (prompt-to-prompt re-weighting), or None."""
    if not weights:
        return None
    vec = torch.ones(tokenizer.model_max_length)
    for word, w in weights.items():
        if not isinstance(w, (int, float)) or w < 0:
            raise ValueError(f"re-weighting of {word!r} must be a non-negative number, got {w!r}")
        for i in word_token_indices(tokenizer, prompt, word):
            vec[i] = float(w)
    return vec
