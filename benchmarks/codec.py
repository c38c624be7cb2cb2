"""EnCodec speed: encode and decode 30 s of 32 kHz audio with the full-size 32 kHz codec
(random weights, the facebook/encodec_32khz layout), ours against transformers'
`EncodecModel` on the same weights, measured side by side in one run.

    python benchmarks/codec.py [--seconds 30] [--repeats 3] [--threads N] [--pad-mode reflect]

Prints wall times (best of --repeats, the two implementations alternating), real-time
factors (processing time / audio duration: below 1 is faster than real time), the ratio
transformers / ours (above 1: ours is faster), our streaming decode (1 s chunks), and
checks that both give the same codes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch
from transformers import EncodecConfig
from transformers import EncodecModel as HFEncodecModel

from audiocraft.models.encodec import CompressionModel
from audiocraft.models.loaders import load_compression_model


def build_pair(pad_mode: str) -> tuple[CompressionModel, Any]:
    """transformers' model with the facebook/encodec_32khz config and random weights
    (codebooks filled with random vectors, else every code is 0), and ours loaded from it."""
    torch.manual_seed(0)
    cfg = EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        num_filters=64,
        hidden_size=128,
        codebook_dim=128,
        codebook_size=2048,
        upsampling_ratios=[8, 5, 4, 4],
        num_lstm_layers=2,
        target_bandwidths=[2.2],
        pad_mode=pad_mode,
        use_causal_conv=False,
        use_conv_shortcut=False,
        normalize=False,
        chunk_length_s=None,
        overlap=None,
    )
    hf: Any = HFEncodecModel(cfg).eval()
    with torch.no_grad():
        residual = hf.encoder(torch.randn(1, 1, 32000))  # [1, 128, 50]
        for layer in hf.quantizer.layers:
            flat = residual.transpose(1, 2).reshape(-1, 128)
            embed = flat.mean(0) + torch.randn(2048, 128) * flat.std(0)
            layer.codebook.embed.copy_(embed)
            layer.codebook.embed_avg.copy_(embed)
            residual = residual - layer.decode(layer.encode(residual))
    with tempfile.TemporaryDirectory() as folder:
        hf.save_pretrained(folder)
        ours = load_compression_model(folder).eval()
    return ours, hf


def best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--pad-mode", default="reflect", choices=["reflect", "constant"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ours, hf = build_pair(args.pad_mode)
    wav = torch.randn(1, 1, int(args.seconds * 32000)) * 0.1  # [B, C, T]
    with torch.inference_mode():
        codes, _ = ours.encode(wav)
        hf_codes = hf.encode(wav, bandwidth=2.2).audio_codes  # [1, B, K, T_f]
        same = torch.equal(codes, hf_codes[0])
        timings: dict[str, list[float]] = {
            k: [] for k in ("enc_ours", "enc_hf", "dec_ours", "dec_hf", "stream")
        }
        runs = {
            "enc_ours": lambda: ours.encode(wav),
            "enc_hf": lambda: hf.encode(wav, bandwidth=2.2),
            "dec_ours": lambda: ours.decode(codes),
            "dec_hf": lambda: hf.decode(hf_codes, [None]),
            "stream": lambda: sum(w.shape[-1] for w in ours.decode_stream(codes, 50)),
        }
        for repeat in range(
            args.repeats
        ):  # interleaved, order flipped each round: load hits both alike
            order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
            for name in order:
                timings[name].append(best_time(runs[name], 1))
        one_shot = ours.decode(codes)
        streamed = torch.cat(list(ours.decode_stream(codes, 50)), dim=-1)
    best = {k: min(v) for k, v in timings.items()}
    sec = args.seconds
    print(
        f"EnCodec 32 kHz full size, {sec:.0f} s of audio, pad_mode={args.pad_mode}, "
        f"threads={torch.get_num_threads()}, best of {args.repeats}"
    )
    print(
        f"codes identical to transformers: {same}; streaming vs one-shot max abs diff "
        f"{(streamed - one_shot).abs().max().item():.2e}"
    )
    header = [("ours (s)", 10), ("transformers (s)", 18), ("RTF ours", 10), ("RTF tf", 8)]
    header.append(("tf/ours", 9))
    print(" " * 18 + "".join(f"{name:>{width}}" for name, width in header))
    for name in ("enc", "dec"):
        o, h = best[f"{name}_ours"], best[f"{name}_hf"]
        label = "encode" if name == "enc" else "decode"
        print(f"{label:18}{o:10.2f}{h:18.2f}{o / sec:10.3f}{h / sec:8.3f}{h / o:9.2f}")
    s = best["stream"]
    print(
        f"{'decode (stream 1s)':18}{s:10.2f}{'':18}{s / sec:10.3f}{'':8}{best['dec_hf'] / s:9.2f}"
    )


if __name__ == "__main__":
    main()
