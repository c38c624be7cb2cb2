"""SEANet modules: output lengths, causality (by gradients), streaming equals one-shot."""

import pytest
import torch

from audiocraft.modules.conv import StreamableConv1d, StreamableConvTranspose1d, pad1d
from audiocraft.modules.lstm import StreamableLSTM
from audiocraft.modules.seanet import SEANetDecoder, SEANetEncoder
from audiocraft.modules.streaming import module_stream

RATIOS = [4, 3, 2]  # hop 24: keeps every test tiny
HOP = 24


def _pair(causal: bool, pad_mode: str, lstm: int = 1) -> tuple[SEANetEncoder, SEANetDecoder]:
    kwargs = dict(
        channels=1,
        dimension=8,
        n_filters=2,
        n_residual_layers=2,
        ratios=RATIOS,
        lstm=lstm,
        causal=causal,
        pad_mode=pad_mode,
        norm="weight_norm",
        true_skip=False,
    )
    return SEANetEncoder(**kwargs), SEANetDecoder(**kwargs)


def _chunks(x: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    out, start, i = [], 0, 0
    while start < x.shape[-1]:
        size = sizes[i % len(sizes)]
        out.append(x[..., start : start + size])
        start, i = start + size, i + 1
    return out


def _stream(module: torch.nn.Module, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    stream = module_stream(module)
    pieces = [stream.step(c) for c in _chunks(x, sizes)] + [stream.flush()]
    return torch.cat([p for p in pieces if p is not None], dim=-1)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_output_lengths(causal, pad_mode):
    encoder, decoder = _pair(causal, pad_mode)
    for length in [1, 2, 5, HOP - 1, HOP, HOP + 1, 3 * HOP + 7, 10 * HOP]:
        with torch.no_grad():
            latent = encoder(torch.randn(2, 1, length))
            frames = -(-length // HOP)
            assert latent.shape == (2, 8, frames), length
            assert decoder(latent).shape == (2, 1, frames * HOP)


def test_causality_by_gradients():
    # Constant padding: with reflect, the first outputs see the mirrored first samples.
    pad_mode = "constant"
    encoder, decoder = _pair(True, pad_mode)
    x = torch.randn(1, 1, 8 * HOP, requires_grad=True)
    y = decoder(encoder(x))
    for t in [0, HOP - 1, 3 * HOP + 5, 6 * HOP]:
        (grad,) = torch.autograd.grad(y[0, 0, t], x, retain_graph=True)
        frame_end = (t // HOP + 1) * HOP  # output t depends on input up to the end of its frame
        assert grad[0, 0, frame_end:].abs().max() == 0, t
        assert grad[0, 0, :frame_end].abs().max() > 0, t
    # the same check fails for the non-causal model: the test can tell them apart
    encoder, decoder = _pair(False, pad_mode)
    y = decoder(encoder(x))
    (grad,) = torch.autograd.grad(y[0, 0, HOP - 1], x)
    assert grad[0, 0, HOP:].abs().max() > 0


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("sizes", [[1], [3], [2, 7, 1], [50]])
def test_decoder_streaming_equals_one_shot(causal, pad_mode, sizes):
    _, decoder = _pair(causal, pad_mode)
    z = torch.randn(2, 8, 13)  # [B, D, T_f]
    with torch.no_grad():
        full = decoder(z)
        streamed = _stream(decoder, z, sizes)
    assert streamed.shape == full.shape
    assert (streamed - full).abs().max() < 1e-5


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_encoder_streaming_equals_one_shot(causal, pad_mode):
    encoder, _ = _pair(causal, pad_mode)
    for length in [5, 7 * HOP + 11]:
        x = torch.randn(1, 1, length)
        with torch.no_grad():
            full = encoder(x)
            for sizes in ([1, 30], [HOP], [length]):
                streamed = _stream(encoder, x, sizes)
                assert streamed.shape == full.shape
                assert (streamed - full).abs().max() < 1e-5


@pytest.mark.parametrize(
    "module",
    [
        StreamableConv1d(3, 4, 7, stride=3, pad_mode="reflect"),
        StreamableConv1d(3, 4, 3, dilation=2, causal=True, pad_mode="constant"),
        StreamableConvTranspose1d(3, 4, 8, stride=4),
        StreamableConvTranspose1d(3, 4, 5, stride=2, causal=True, trim_right_ratio=0.5),
        StreamableLSTM(3, num_layers=2),
    ],
)
def test_layer_streams(module):
    x = torch.randn(2, 3, 23)
    with torch.no_grad():
        assert (_stream(module, x, [2, 5]) - module(x)).abs().max() < 1e-5


def test_stream_state_is_bounded():
    _, decoder = _pair(False, "reflect")
    stream = module_stream(decoder)
    sizes = []
    with torch.no_grad():
        for _ in range(40):
            stream.step(torch.randn(1, 8, 3))
            sizes.append(stream.state_numel())
    assert max(sizes[10:]) == max(sizes[:10])  # no growth with the number of chunks


def test_reflect_pad_of_short_input_matches_the_rule():
    x = torch.arange(3.0).view(1, 1, 3)
    assert pad1d(x, (2, 2), mode="reflect").tolist() == [[[2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0]]]
    # wider than the input: zeros are appended first, then reflected, then cut back
    assert pad1d(x, (4, 1), mode="reflect").tolist() == [[[0.0, 0.0, 2.0, 1.0, 0.0, 1.0, 2.0, 0.0]]]


def test_snake_activation():
    from audiocraft.modules.seanet import Snake

    snake = Snake(3, alpha=2.0)
    x = torch.linspace(-3, 3, 50).repeat(1, 3, 1)  # [1, 3, 50]
    assert torch.allclose(snake(x), x + torch.sin(2 * x) ** 2 / 2, atol=1e-6)
    # One learnt frequency per channel, reached by the gradient.
    snake(x).sum().backward()
    assert snake.alpha.shape == (1, 3, 1) and snake.alpha.grad.abs().min() > 0
    with pytest.raises(ValueError, match="alpha"):
        Snake(3, alpha=0.0)


def test_snake_codec_streams_and_keeps_its_alphas():
    kwargs = dict(channels=1, dimension=8, n_filters=2, n_residual_layers=1, ratios=RATIOS,
                  lstm=0, causal=True, activation="Snake", activation_params={"alpha": 0.5})
    enc, dec = SEANetEncoder(**kwargs), SEANetDecoder(**kwargs)
    alphas = [k for k in dec.state_dict() if k.endswith(".alpha")]
    assert alphas and all(dec.state_dict()[k].eq(0.5).all() for k in alphas)
    x = torch.randn(1, 1, 5 * HOP, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        z = enc(x)
        assert torch.allclose(_stream(dec, z, [1, 2]), dec(z), atol=1e-5)
    with pytest.raises(ValueError, match="Snake"):
        SEANetDecoder(**{**kwargs, "activation": "Mamba"})
