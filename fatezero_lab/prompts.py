"""Words and tokens: find a word's tokens, align a source and a target prompt (prompt-to-prompt), re-weight words.

Cross-attention fusion needs to know which target token corresponds to which source token:

- **replace** (prompts with the same number of tokens, one word swapped): token i of the target reads the source
  map of token i — ``A_fused = A_src``;
- **refine** (words added or removed): target token j reads source token ``mapper[j]`` when it has one
  (``alpha[j] = 1``) and keeps its own map otherwise — ``A_fused[..., j] = α_j A_src[..., mapper[j]] + (1 − α_j) A_tgt[..., j]``.

The refine alignment is a global alignment of the two prompts' *token ids* (BOS and EOS included) that maximises the
number of matched tokens, with the same tie-breaking as the authors' prompt-to-prompt aligner
(``video_diffusion/prompt_attention/seq_aligner.py``, ``global_align`` l.61-76 and ``get_mapper`` l.107-118 of the
reference), so that every prompt pair gets their mapper and alphas (tests/test_refine_mapper.py checks it against
goldens computed with their code).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def token_ids(tokenizer, prompt: str) -> list[int]:
    """Token ids with BOS/EOS, without padding."""
    return tokenizer(prompt, truncation=True).input_ids


def words(prompt: str) -> list[str]:
    """The words of ``prompt`` as the knobs name them (blend words, re-weighted words): whitespace split, lower case,
    a trailing ``,``/``.`` dropped. Needs no tokenizer, so inputs can be checked before a model is loaded."""
    return [w.lower().strip(",.") for w in prompt.split()]


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
    hits = [idx for (_, idx), w in zip(spans, words(prompt)) if w == str(word).lower()]
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
    mapper: torch.Tensor  # (tokens,) long: target token j reads source token mapper[j] (-1 where alpha is 0)
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
    # refine: each target token reads the source token the global alignment matches it with (BOS and EOS included)
    src_ids, tgt_ids = token_ids(tokenizer, source), token_ids(tokenizer, target)
    mapper, alpha = torch.zeros(length, dtype=torch.long), torch.zeros(length)
    for t, s in enumerate(global_alignment(src_ids, tgt_ids)[:length]):
        mapper[t], alpha[t] = s, float(s >= 0)  # unmatched: -1 with alpha 0 (the entry is never read)
    if tail == "reference":  # every position k after the target's EOS reads source position k
        mapper[n_tgt:], alpha[n_tgt:] = torch.arange(n_tgt, length), 1.0
    else:  # EOS and pads from the end: target position n_tgt-1+k reads source position n_src-1+k
        for k in range(length - n_tgt + 1):
            t, s = n_tgt - 1 + k, min(n_src - 1 + k, length - 1)
            mapper[t], alpha[t] = s, 1.0
    return Alignment("refine", mapper, alpha)


def global_alignment(source: list[int], target: list[int]) -> list[int]:
    """For each target token, the index of the source token it is aligned with, or -1 (an inserted token).

    A global (Needleman–Wunsch) alignment with score +1 per match, −1 per mismatch and 0 per gap, i.e. the longest
    common subsequence of the two token sequences:

        S[i, j] = max(S[i, j−1], S[i−1, j], S[i−1, j−1] + (1 if x_i = y_j else −1)),   S[i, 0] = S[0, j] = 0.

    Among alignments of equal score, the one taken is found by walking back from (n, m) and preferring, at each
    cell, a gap in the source (target token j unmatched), then a gap in the target, then the diagonal — the order
    of the authors' traceback (reference ``seq_aligner.py`` l.69-75), so ties resolve as theirs do. A mismatch is
    never taken (a gap pair scores 0 > −1), so every diagonal step is a match.
    """
    n, m = len(source), len(target)
    score = [[0] * (m + 1) for _ in range(n + 1)]  # (n+1, m+1) best score of source[:i] vs target[:j]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            diag = score[i - 1][j - 1] + (1 if source[i - 1] == target[j - 1] else -1)
            score[i][j] = max(score[i][j - 1], score[i - 1][j], diag)
    matched = [-1] * m
    i, j = n, m
    while i > 0 and j > 0:
        if score[i][j] == score[i][j - 1]:  # target token j-1 is a gap
            j -= 1
        elif score[i][j] == score[i - 1][j]:  # source token i-1 is a gap
            i -= 1
        else:  # a match
            i, j = i - 1, j - 1
            matched[j] = i
    return matched  # the first column / row: the rest of the target (j > 0 with i = 0) stays unmatched


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
