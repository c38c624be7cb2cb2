"""LMModel: the MusicGen language model over interleaved codebook streams.

Training: `compute_predictions(codes [B, K, T], conditions)` builds the pattern sequence,
runs one causal pass and returns logits re-aligned with the codes, `LMOutput(logits
[B, K, T, card], mask [B, K, T])`. Sampling: `generate(...)` (see its docstring).

Embeddings: one table of card + 1 rows per codebook (row `card` is the special token),
summed over codebooks; then the fuser adds the conditions, the transformer runs, an
optional final norm (pre-norm models) and one linear head per codebook give the logits.
"""

from __future__ import annotations

import typing as tp
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from ..modules.conditioners import (
    AttributeDropout,
    ClassifierFreeGuidanceDropout,
    ConditionFuser,
    ConditioningAttributes,
    ConditioningProvider,
    ConditionType,
)
from ..modules.patterns import CodebooksPatternProvider
from ..modules.transformer import KVCache, StreamingTransformer, create_norm_fn, init_layer
from .errors import NonFiniteLogitsError
from .sampling import check_guidance_coef, check_sampling_args, sample_next_token

ConditionTensors = dict[str, ConditionType]


class StopFlag(tp.Protocol):
    """What ``LMModel.generate(stop=...)`` checks: a ``threading.Event`` has it."""

    def is_set(self) -> bool: ...


@dataclass
class LMOutput:
    """Predictions aligned with the codes.

    Attributes:
        logits: [B, K, T, card]; NaN where the pattern gives no prediction.
        mask: [B, K, T] bool, True where logits are valid.
    """

    logits: torch.Tensor
    mask: torch.Tensor


class ScaledEmbedding(nn.Embedding):
    """Embedding with its own learning rate (`lr`, None for the optimizer's)."""

    def __init__(self, *args: tp.Any, lr: float | None = None, **kwargs: tp.Any):
        super().__init__(*args, **kwargs)
        self.lr = lr

    def make_optim_group(self) -> dict[str, tp.Any]:
        group: dict[str, tp.Any] = {"params": list(self.parameters())}
        if self.lr is not None:
            group["lr"] = self.lr
        return group


@dataclass
class _GuidancePass:
    """One batch run per generation step: its condition tensors, how many copies of the
    sequence it takes (1 to 3 stacked), and its own KV cache."""

    conditions: ConditionTensors
    copies: int
    cache: KVCache | None = None


class LMModel(nn.Module):
    """Transformer language model over K codebooks with classifier-free guidance.

    Args:
        pattern_provider: codebook interleaving (e.g. delay [0, 1, 2, 3]).
        condition_provider: conditioners, name -> (emb [B, Tc, dim], mask [B, Tc]).
        fuser: how conditions enter the transformer (sum, prepend, cross...).
        n_q: codebooks K. card: codebook size (the special token id is `card`).
        dim, num_heads, hidden_scale: model size (feed-forward = hidden_scale * dim).
        norm, norm_first: normalisation; pre-norm models get a final norm `out_norm`.
        emb_lr: learning rate of the embeddings (None: the optimizer's).
        bias_proj: biases of the output heads.
        weight_init, depthwise_init, zero_bias_init: the reference initialisation
            (`gaussian`/`uniform`; depth scaling `current`/`global`; zero biases).
        cfg_dropout: probability of dropping all conditions in training.
        cfg_coef: default guidance coefficient of `generate`: one number, or one per
            codebook (see :func:`.sampling.check_guidance_coef`).
        attribute_dropout: kind -> {attribute -> probability} for training.
        two_step_cfg: default of `generate(two_step_cfg=...)`.
        **kwargs: StreamingTransformer arguments (num_layers, dropout, activation,
            causal, cross_attention, cross_attention_mask, positional_embedding, ...).
    """

    def __init__(self, pattern_provider: CodebooksPatternProvider,
                 condition_provider: ConditioningProvider, fuser: ConditionFuser,
                 n_q: int = 8, card: int = 1024, dim: int = 128, num_heads: int = 8,
                 hidden_scale: float = 4, norm: str = "layer_norm", norm_first: bool = False,
                 emb_lr: float | None = None, bias_proj: bool = True,
                 weight_init: str | None = None, depthwise_init: str | None = None,
                 zero_bias_init: bool = False, cfg_dropout: float = 0.0,
                 cfg_coef: float | tp.Sequence[float] = 1.0,
                 attribute_dropout: dict[str, dict[str, float]] | None = None,
                 two_step_cfg: bool = False, **kwargs: tp.Any):
        super().__init__()
        # The full config the model was built from (set by builders.get_lm_model; exported
        # as xp.cfg by loaders.export_lm), None for models built by hand.
        self.cfg: tp.Any = None
        # Inference precision of the decoder (set by models/precision.apply_precision).
        self.precision = "float32"
        if pattern_provider.n_q != n_q:
            raise ValueError(f"The pattern has {pattern_provider.n_q} codebooks, the model {n_q}.")
        self.cfg_coef: float | list[float] = check_guidance_coef(cfg_coef, n_q)
        self.cfg_dropout = ClassifierFreeGuidanceDropout(p=cfg_dropout)
        self.att_dropout = AttributeDropout(p=attribute_dropout or {})
        self.condition_provider = condition_provider
        self.fuser = fuser
        self.card, self.n_q, self.dim = card, n_q, dim
        self.pattern_provider = pattern_provider
        self.two_step_cfg = two_step_cfg
        self.emb = nn.ModuleList([ScaledEmbedding(card + 1, dim, lr=emb_lr) for _ in range(n_q)])
        kwargs.setdefault("causal", True)
        self.transformer = StreamingTransformer(
            d_model=dim, num_heads=num_heads, dim_feedforward=int(hidden_scale * dim),
            norm=norm, norm_first=norm_first, **kwargs)
        self.out_norm: nn.Module | None = create_norm_fn(norm, dim) if norm_first else None
        self.linears = nn.ModuleList([nn.Linear(dim, card, bias=bias_proj) for _ in range(n_q)])
        self._init_weights(weight_init, depthwise_init, zero_bias_init)

    def _init_weights(self, weight_init: str | None, depthwise_init: str | None,
                      zero_bias_init: bool) -> None:
        if depthwise_init not in (None, "current", "global"):
            raise ValueError(f"depthwise_init must be null, current or global, got "
                             f"{depthwise_init!r}.")
        if weight_init is None:
            if depthwise_init is not None or zero_bias_init:
                raise ValueError("depthwise_init and zero_bias_init need a weight_init.")
            return
        for emb in self.emb:
            init_layer(emb, weight_init, None, zero_bias_init)
        num_layers = len(self.transformer.layers)
        for index, layer in enumerate(self.transformer.layers):
            depth = {"current": index + 1, "global": num_layers, None: None}[depthwise_init]
            layer.apply(partial(init_layer, method=weight_init, init_depth=depth,
                                zero_bias_init=zero_bias_init))
        for linear in self.linears:
            init_layer(linear, weight_init, None, zero_bias_init)

    @property
    def special_token_id(self) -> int:
        """Id of the special token (= card): 'nothing here yet / before the start'."""
        return self.card

    @property
    def num_codebooks(self) -> int:
        return self.n_q

    @property
    def cross_attention_mask(self) -> bool:
        """Whether cross-attention ignores padded condition steps (see StreamingTransformer)."""
        return self.transformer.cross_attention_mask

    @cross_attention_mask.setter
    def cross_attention_mask(self, value: bool) -> None:
        self.transformer.cross_attention_mask = bool(value)

    def prepare_conditions(self, conditions: list[ConditioningAttributes]) -> ConditionTensors:
        """Tokenize and embed attributes (with training-time dropouts applied)."""
        conditions = self.att_dropout(self.cfg_dropout(conditions))
        return self.condition_provider(self.condition_provider.tokenize(conditions))

    def forward(self, sequence: torch.Tensor, conditions: list[ConditioningAttributes],
                condition_tensors: ConditionTensors | None = None,
                cache: KVCache | None = None) -> torch.Tensor:
        """Logits of the next pattern step for every step of `sequence`.

        Args:
            sequence: pattern sequence [B, K, S] (ids in [0, card], card = special token).
            conditions: attributes of the B samples; ignored when `condition_tensors`
                is given (required with a cache).
            condition_tensors: precomputed name -> (emb [B, Tc, D], mask [B, Tc]).
            cache: KV cache continuing a sequence (generation), or None.
        Returns:
            logits [B, K, S, card]; position s predicts step s + 1.
        """
        B, K, S = sequence.shape
        if K != self.n_q:
            raise ValueError(f"Sequence has {K} codebooks, the model {self.n_q}.")
        if condition_tensors is None:
            if cache is not None:
                raise ValueError("Precompute condition_tensors when using a KV cache.")
            condition_tensors = self.prepare_conditions(conditions)
        input_ = sum(self.emb[k](sequence[:, k]) for k in range(K))  # [B, S, D]
        assert isinstance(input_, torch.Tensor)
        # Conditioners may run in another precision (e.g. a float32 T5 under a bf16 LM).
        condition_tensors = {name: (emb.to(input_.dtype), mask)
                             for name, (emb, mask) in condition_tensors.items()}
        first_step = cache is None or cache.offset == 0
        offset = 0 if cache is None or first_step else cache.offset - cache.prepended
        fused = self.fuser(input_, condition_tensors, first_step=first_step, offset=offset)
        if cache is not None and first_step:
            cache.prepended = fused.prepend_length
        out = self.transformer(fused.input, cross_attention_src=fused.cross_attention_input,
                               cross_attention_mask=fused.cross_attention_mask,
                               cache=cache)  # [B, P + S, D]
        if self.out_norm is not None:
            out = self.out_norm(out)
        logits = torch.stack([self.linears[k](out) for k in range(K)], dim=1)  # [B, K, P+S, card]
        return logits[:, :, -S:]  # drop the prepended condition steps

    def compute_predictions(self, codes: torch.Tensor, conditions: list[ConditioningAttributes],
                            condition_tensors: ConditionTensors | None = None,
                            keep_only_valid_steps: bool = True) -> LMOutput:
        """Teacher-forced predictions of codes [B, K, T] (long) -> LMOutput.

        logits[:, k, t] is the distribution of codes[:, k, t] given everything before it
        in the pattern; positions the pattern does not predict hold NaN, mask False.
        """
        B, K, T = codes.shape
        pattern = self.pattern_provider.get_pattern(T)
        sequence, _, _ = pattern.build_pattern_sequence(
            codes.contiguous(), self.special_token_id, keep_only_valid_steps)  # [B, K, S]
        logits = self(sequence, conditions, condition_tensors)  # [B, K, S, card]
        logits = logits.permute(0, 3, 1, 2)  # [B, card, K, S]
        logits, _, mask = pattern.revert_pattern_logits(
            logits, float("nan"), keep_only_valid_steps)  # [B, card, K, T]
        logits = logits.permute(0, 2, 3, 1)  # [B, K, T, card]
        return LMOutput(logits, mask[None].expand(B, -1, -1))

    # ---- generation ----

    def _guidance_passes(self, conditions: list[ConditioningAttributes], num_samples: int,
                         two_step_cfg: bool, cfg_coef_beta: float | None) -> list[_GuidancePass]:
        """The batches to run per step: conditional (+ text-free) (+ null) rows. The
        text-free rows of double guidance null every text attribute and keep the others."""
        provider = self.condition_provider
        if not len(provider.conditioners):
            # An unconditional model: null attributes ({"description": None}) are fine, real
            # ones would be silently ignored, so they are an error.
            given = [k for c in conditions for k, v in c.text.items() if v is not None]
            given += [k for c in conditions for k in [*c.wav, *c.joint_embed]]
            if given:
                raise ValueError(f"This model has no conditioners but the conditions set "
                                 f"{sorted(set(given))}: pass no conditions (or None texts).")
            return [_GuidancePass({}, 1)]
        if not conditions:
            # No attributes: plain unconditional sampling with null conditions, no guidance.
            null = [ConditioningAttributes() for _ in range(num_samples)]
            return [_GuidancePass(provider(provider.tokenize(null)), 1)]
        null = ClassifierFreeGuidanceDropout(p=1.0).train()(conditions)
        if cfg_coef_beta is not None:
            no_text = [ConditioningAttributes(text={k: None for k in c.text}, wav=dict(c.wav),
                                              joint_embed=dict(c.joint_embed))
                       for c in conditions]
            both = conditions + no_text + null
            return [_GuidancePass(provider(provider.tokenize(both)), 3)]
        if two_step_cfg:
            return [_GuidancePass(provider(provider.tokenize(conditions)), 1),
                    _GuidancePass(provider(provider.tokenize(null)), 1)]
        return [_GuidancePass(provider(provider.tokenize(conditions + null)), 2)]

    def _guided_logits(self, sequence: torch.Tensor, passes: list[_GuidancePass],
                       cfg_coef: float | torch.Tensor, cfg_coef_beta: float | None
                       ) -> torch.Tensor:
        """Run every pass on sequence [B, K, s] and combine: logits [B, K, card] of the
        last step. `cfg_coef`: a number, or a tensor [K, 1] (one per codebook)."""
        outs = []
        for p in passes:
            batch = torch.cat([sequence] * p.copies, dim=0) if p.copies > 1 else sequence
            logits = self(batch, [], condition_tensors=p.conditions, cache=p.cache)
            outs.extend(logits[:, :, -1].split(sequence.shape[0], dim=0))  # [B, K, card] each
        if len(outs) == 1:
            return outs[0]
        if len(outs) == 2:
            cond, uncond = outs
            return uncond + (cond - uncond) * cfg_coef
        cond, no_text, uncond = outs
        assert cfg_coef_beta is not None
        return uncond + cfg_coef * (no_text + cfg_coef_beta * (cond - no_text) - uncond)

    def _num_samples(self, prompt: torch.Tensor | None, conditions: list[ConditioningAttributes],
                     num_samples: int | None) -> int:
        sizes = {}
        if num_samples is not None:
            sizes["num_samples"] = num_samples
        if prompt is not None:
            sizes["prompt.shape[0]"] = prompt.shape[0]
        if conditions:
            sizes["len(conditions)"] = len(conditions)
        if len(set(sizes.values())) > 1:
            raise ValueError(f"Batch sizes disagree: {sizes}. Pass one condition per prompt "
                             "row and a matching num_samples (or leave num_samples None).")
        size = next(iter(sizes.values()), 1)
        if size < 1:
            raise ValueError(f"Need at least one sample, got {size}.")
        return size

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor | None = None,
                 conditions: list[ConditioningAttributes] | None = None,
                 num_samples: int | None = None, max_gen_len: int = 256,
                 use_sampling: bool = True, temp: float = 1.0, top_k: int = 250,
                 top_p: float = 0.0, cfg_coef: float | tp.Sequence[float] | None = None,
                 two_step_cfg: bool | None = None, cfg_coef_beta: float | None = None,
                 remove_prompts: bool = False, check: bool = False,
                 callback: tp.Callable[[int, int], None] | None = None,
                 generator: torch.Generator | None = None,
                 stop: StopFlag | None = None) -> torch.Tensor:
        """Sample codes autoregressively with a KV cache and classifier-free guidance.

        Args:
            prompt: codes [B, K, T_p] (long, values in [0, card)) that the output starts
                with, or None (T_p = 0). Prompt frames are fed to the model in one call
                (prefill) and never changed; positions are counted from the prompt's first
                frame, so a continuation gets positions T_p, T_p + 1, ...
            conditions: one ConditioningAttributes per sample. Empty/None: unconditional
                sampling without guidance.
            num_samples: batch size B when neither prompt nor conditions give it; if
                several are given they must agree (else ValueError).
            max_gen_len: total length in frames of the output INCLUDING the prompt; must
                exceed T_p (a prompt as long as the window leaves nothing to generate).
            use_sampling: sample (True) or take the argmax (False).
            temp: softmax temperature (>= 0; 0 is greedy). top_k: keep the k most likely
                tokens (0: off). top_p: nucleus mass in [0, 1] (0: off; takes precedence).
            cfg_coef: guidance coefficient, logits = uncond + (cond - uncond) * cfg_coef
                on raw logits (before temperature); one number, or one per codebook
                (codebook k's logits guided by cfg_coef[k]); None uses `self.cfg_coef`.
            two_step_cfg: run the conditional and null batches as two passes with separate
                KV caches (same result as one doubled batch up to float rounding; padding
                then never mixes rows). None uses `self.two_step_cfg`.
            cfg_coef_beta: double guidance (MusicGen-Style): three rows per sample, full
                conditions, conditions without text, null; logits = uncond + cfg_coef *
                (no_text + cfg_coef_beta * (cond - no_text) - uncond).
            remove_prompts: return only the new frames.
            check: verify the pattern bookkeeping at every step (slow, for tests).
            callback: called after every step as callback(step, total_steps), step from 1.
            generator: torch.Generator for the sampling draws (same state, same tokens);
                None uses the global torch RNG.
            stop: anything with ``is_set()`` (a threading.Event), checked before every
                step; once set, sampling ends and the frames completed so far are
                returned (every codebook filled; with a delay pattern the last few
                frames of a step are still partial and are left out).
        Returns:
            codes [B, K, max_gen_len] (long), the prompt first, or [B, K, max_gen_len - T_p]
            with remove_prompts; fewer frames (T_p at least) when ``stop`` ended it.
            Every value is a real code in [0, card): the special token (id card) only
            lives inside the pattern sequence and never reaches the output.
        """
        if self.training:
            raise RuntimeError("Call model.eval() before generate().")
        check_sampling_args(temp, top_k, top_p)
        conditions = list(conditions or [])
        B = self._num_samples(prompt, conditions, num_samples)
        two_step_cfg = self.two_step_cfg if two_step_cfg is None else two_step_cfg
        device = next(iter(self.parameters())).device
        coef = check_guidance_coef(self.cfg_coef if cfg_coef is None else cfg_coef, self.n_q)
        # A list guides each codebook's logits [B, K, card] by its own coefficient.
        guidance = coef if isinstance(coef, float) else torch.tensor(coef, device=device)[:, None]
        if prompt is None:
            prompt = torch.zeros(B, self.n_q, 0, dtype=torch.long, device=device)  # [B, K, 0]
        self._check_prompt(prompt, max_gen_len)
        T_p = prompt.shape[-1]
        passes = self._guidance_passes(conditions, B, two_step_cfg, cfg_coef_beta)

        unknown = -1  # marks not-yet-generated codes
        pattern = self.pattern_provider.get_pattern(max_gen_len)
        codes = torch.full((B, self.n_q, max_gen_len), unknown, dtype=torch.long,
                           device=device)  # [B, K, T]
        codes[..., :T_p] = prompt.to(device)
        sequence, _, mask = pattern.build_pattern_sequence(codes, self.special_token_id)
        S = sequence.shape[-1]  # [B, K, S]
        start = pattern.get_first_step_with_timesteps(T_p)
        if start is None:
            raise RuntimeError(f"The pattern has no step for frame {T_p}.")
        for p in passes:
            # The first call feeds steps [0, start); each later call one step, up to S - 2.
            p.cache = KVCache(extra_steps=max(S - 1 - start, 0))
        prev = 0
        stopped = False
        for offset in range(start, S):
            if stop is not None and stop.is_set():
                stopped = True
                break
            current = sequence[..., prev:offset]  # [B, K, s]: the prefill, then one step
            if check:
                valid = mask[None, :, prev:offset].expand(B, -1, -1)
                assert (current == torch.where(valid, current, self.special_token_id)).all()
                assert not (current == unknown).any()
            logits = self._guided_logits(current, passes, guidance, cfg_coef_beta)
            if not bool(torch.isfinite(logits).all()):  # one reduction per step: cheap
                raise NonFiniteLogitsError(
                    f"The model produced NaN or infinite logits at step {offset} of {S}: its "
                    "weights or inputs hold NaN/inf, or its precision overflowed. Check the "
                    "checkpoint (and any audio prompt or melody), or sample in float32.")
            next_token = sample_next_token(logits, use_sampling, temp, top_k, top_p,
                                           generator)  # [B, K, 1]
            valid = mask[None, :, offset:offset + 1].expand(B, -1, -1)
            next_token = torch.where(valid, next_token, self.special_token_id)
            step = sequence[..., offset:offset + 1]
            sequence[..., offset:offset + 1] = torch.where(step == unknown, next_token, step)
            prev = offset
            if callback is not None:
                callback(1 + offset - start, S - start)
        out, _, out_mask = pattern.revert_pattern_sequence(sequence, special_token=unknown)
        end = max_gen_len
        if stopped:
            # Only the frames whose every codebook was sampled are kept.
            known = (out[..., :max_gen_len] != unknown).all(dim=1).all(dim=0)  # [T]
            end = int(known.long().cumprod(0).sum())
        elif check:
            assert bool(out_mask[:, :max_gen_len].all())
        out = out[..., (T_p if remove_prompts else 0):end]  # [B, K, T]
        assert (out >= 0).all() and (out < self.card).all(), "generation left invalid codes"
        return out

    def _check_prompt(self, prompt: torch.Tensor, max_gen_len: int) -> None:
        if prompt.dim() != 3 or prompt.shape[1] != self.n_q:
            raise ValueError(f"prompt must be codes [B, {self.n_q}, T], got shape "
                             f"{tuple(prompt.shape)}.")
        if prompt.dtype.is_floating_point or prompt.dtype == torch.bool:
            raise ValueError(f"prompt must hold integer codes, got dtype {prompt.dtype}.")
        if prompt.numel() and (prompt.min() < 0 or prompt.max() >= self.card):
            raise ValueError(f"prompt codes must be in [0, {self.card}).")
        if max_gen_len < 1:
            raise ValueError(f"max_gen_len must be >= 1, got {max_gen_len}.")
        if prompt.shape[-1] >= max_gen_len:
            raise ValueError(
                f"The prompt has {prompt.shape[-1]} frames but max_gen_len is {max_gen_len} "
                "(the total length, prompt included): nothing is left to generate. Use a "
                "shorter prompt or a larger max_gen_len.")
