"""Energy per token: prefill (input) and decode (output), per model and GPU, with sources.

Coefficients are GPU energy per token [J] at a stated batch size; IT energy per token adds the
node's host overhead (:mod:`models.datacenter`). Where a published measurement exists it is used
as is; where none is cited the coefficient is *derived* from compute, and the derivation is shown:

    prefill J/token = 2 * N_active FLOP / (peak dense BF16 FLOP/s * MFU_prefill) * GPU power

with the GPU's datasheet peak and power and ``MFU_prefill = 0.5`` (prefill is compute bound; 50%
is a typical utilisation of large-batch prefill in vLLM-class servers, an assumption stated here).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Dense BF16 peak [FLOP/s] and board power [W]: NVIDIA H100 SXM5 datasheet (989.4 TFLOPS, 700 W).
H100_SXM_PEAK_BF16_FLOPS = 989.4e12
H100_SXM_TDP_W = 700.0
#: Assumed model-FLOP utilisation of prefill (see module docstring).
PREFILL_MFU = 0.5


def prefill_j_per_token(active_params: float, peak_flops: float, gpu_power_w: float,
                        mfu: float = PREFILL_MFU) -> float:
    """Compute-derived GPU energy per prompt token [J]: ``2 N / (peak * MFU) * power``."""
    return 2.0 * active_params / (peak_flops * mfu) * gpu_power_w


@dataclass(frozen=True)
class TokenEnergy:
    """GPU energy per token of one model served on one GPU type.

    Attributes
    ----------
    model : str
    gpu : str
    gpus_per_replica : int
        GPUs one model replica spans (tensor parallel).
    batch_size : int
        Decode batch size the coefficients hold at.
    input_j_per_token : float
        Prefill GPU energy per prompt token, summed over the replica's GPUs [J].
    output_j_per_token : float
        Decode GPU energy per generated token, summed over the replica's GPUs [J].
    source : str
        Where each coefficient comes from.
    """

    model: str
    gpu: str
    gpus_per_replica: int
    batch_size: int
    input_j_per_token: float
    output_j_per_token: float
    source: str


MODEL_CATALOGUE: dict[tuple[str, str], TokenEnergy] = {
    ("llama-3.1-8b", "H100-SXM"): TokenEnergy(
        model="llama-3.1-8b", gpu="H100-SXM", gpus_per_replica=1, batch_size=64,
        input_j_per_token=prefill_j_per_token(8.03e9, H100_SXM_PEAK_BF16_FLOPS, H100_SXM_TDP_W),
        output_j_per_token=0.12,
        source="output: ML.ENERGY Leaderboard v3, Llama-3.1-8B-Instruct, 1x H100, batch 64, "
               "about 0.12 J per output token; input: derived from compute (module docstring), "
               "N = 8.03e9",
    ),
    ("llama-3.1-70b", "H100-SXM"): TokenEnergy(
        model="llama-3.1-70b", gpu="H100-SXM", gpus_per_replica=4, batch_size=128,
        input_j_per_token=prefill_j_per_token(70.6e9, H100_SXM_PEAK_BF16_FLOPS, H100_SXM_TDP_W),
        output_j_per_token=0.6,
        source="output: ML.ENERGY Leaderboard v3, Llama-3.1-70B-Instruct, 4x H100, batch 128, "
               "about 0.6 J per output token; input: derived from compute (module docstring), "
               "N = 70.6e9",
    ),
}


def token_energy(model: str, gpu: str) -> TokenEnergy:
    """Look up a catalogue entry; the error names the field and lists what exists."""
    try:
        return MODEL_CATALOGUE[(model, gpu)]
    except KeyError:
        known = sorted(f"{m} on {g}" for m, g in MODEL_CATALOGUE)
        raise ValueError(f"model = {model!r} on gpu = {gpu!r}: not in the catalogue "
                         f"({', '.join(known)})") from None


def gpu_energy_j(tokens_in, tokens_out, te: TokenEnergy):
    """GPU energy of serving ``tokens_in`` prompt and ``tokens_out`` generated tokens [J]."""
    return tokens_in * te.input_j_per_token + tokens_out * te.output_j_per_token
