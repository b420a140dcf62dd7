"""Energy per token: prefill (input), decode (output) and training, per model and GPU, with sources.

Three estimators, each a plain formula over published hardware and architecture numbers:

**Decode** (output tokens) is memory-bandwidth bound. One decode step of a replica spread over
``tp`` GPUs (tensor parallel) at batch ``B`` reads the weights once and every sequence's KV cache:

    t_mem  = (W_bytes + B * ctx * kv_bytes_per_token) / (tp * HBM_bandwidth * ETA_HBM)
    t_flop = 2 * N_active * B / (tp * peak_bf16 * PREFILL_MFU)
    t_step = max(t_mem, t_flop) + layers * TP_SYNC_S_PER_LAYER * (tp > 1)
    J per output token = t_step * tp * P_serving / B

``W_bytes`` is 2 bytes per parameter (BF16); a mixture-of-experts replica reads the shared weights
and the experts a batch of ``B`` tokens touches (``1 - (1 - k/E)**B`` of them). ``ctx`` is the mean
context held per sequence while decoding, ``MEAN_CONTEXT_TOKENS``. Two constants are *fitted*,
each on one published point and nowhere else (README, "Token energy"):

- ``ETA_HBM`` = 0.57: achieved share of HBM bandwidth, fitted so that Llama-3.1-8B on one H100 at
  batch 64 gives 0.12 J per output token (ML.ENERGY Leaderboard v3).
- ``TP_SYNC_S_PER_LAYER`` = 100 us: tensor-parallel synchronisation per layer per step (two
  all-reduces and their kernel launches), fitted so that Llama-3.1-70B on 4x H100 at batch 128
  gives 0.6 J per output token (ML.ENERGY Leaderboard v3).

Held out, the same formula gives Llama-3.1-8B on one H100 at a running batch of 511 a step of
44 ms against 47.4 ms measured (ML.ENERGY v3 data, tests/models/test_tokens.py).

**Prefill** (input tokens) is compute bound: ``2 * N_active / (peak_bf16 * PREFILL_MFU) * TDP``
per token, with ``PREFILL_MFU = 0.5`` (an assumption: large-batch prefill in vLLM-class servers).

**Training**: ``6 * N_active`` FLOP per token (forward and backward, Kaplan et al. 2020) at a stated
model-FLOP utilisation, with the GPUs at board power (the convention of the Llama 2 and BLOOM
reports): ``6 N / (peak_bf16 * MFU) * TDP``. At MFU 0.40 a 7B model on A100 needs 0.037 Wh per
1,000 tokens; Llama 2 7B reported 184,320 A100-hours at 400 W for 2.0e12 tokens, 0.0369 Wh.

**EcoLogits** is offered as a named alternative (:func:`ecologits_token_energy`): its linear fit of
GPU energy per output token on the active parameter count, ``alpha * P_B + beta`` kWh per GPU, with
``alpha = 8.91e-8``, ``beta = 1.43e-6`` and ``ceil(1.2 * P_total_B * 4 / 8 / 80)`` GPUs
(genai-impact/ecologits, ``ecologits/impacts/llm.py``, fitted by EcoLogits on ML.ENERGY
Leaderboard v1 data). It counts no prefill energy. Its server and PUE terms are left out because
the twin adds host overhead and cooling itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.datacenter import GPU_TYPES, GPUType, gpu_type

#: Achieved share of HBM bandwidth in decode (fitted, module docstring).
ETA_HBM = 0.57
#: Tensor-parallel synchronisation per transformer layer per decode step [s] (fitted).
TP_SYNC_S_PER_LAYER = 100e-6
#: Assumed model-FLOP utilisation of prefill, and of decode's compute bound.
PREFILL_MFU = 0.5
#: Mean context tokens held in the KV cache per sequence while decoding (assumption: chat prompts
#: of a few hundred tokens plus half of a few-hundred-token answer).
MEAN_CONTEXT_TOKENS = 1000
#: Share of the replica's HBM that weights may take when choosing the tensor-parallel degree.
WEIGHT_MEMORY_SHARE = 0.7
#: Share of the replica's HBM usable by weights plus KV cache (caps the batch).
USABLE_MEMORY_SHARE = 0.9
J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class ModelArch:
    """Architecture numbers of one model, from its published configuration.

    Attributes
    ----------
    total_params, active_params : float
        Parameters stored, and used per token (differ for mixture-of-experts) [-].
    layers, kv_heads, head_dim : int
        Transformer layers, key/value heads (grouped-query attention) and head size.
    expert_params : float
        Parameters of all routed experts together (0 for a dense model) [-].
    experts, experts_per_token : int
        Routed experts per layer and experts each token uses (1 and 1 for a dense model).
    serving_batch : int
        Decode batch size the catalogue states for serving it (capped by memory).
    source : str
    """

    total_params: float
    active_params: float
    layers: int
    kv_heads: int
    head_dim: int
    serving_batch: int
    source: str
    expert_params: float = 0.0
    experts: int = 1
    experts_per_token: int = 1

    @property
    def kv_bytes_per_token(self) -> float:
        """KV cache per token of context, keys and values in BF16 [B]."""
        return 2.0 * self.layers * self.kv_heads * self.head_dim * 2.0

    def weight_bytes_read(self, batch: int) -> float:
        """Weight bytes one decode step of ``batch`` sequences reads (BF16) [B]."""
        if self.experts <= 1:
            return 2.0 * self.total_params
        touched = 1.0 - (1.0 - self.experts_per_token / self.experts) ** batch
        return 2.0 * (self.total_params - self.expert_params + self.expert_params * touched)


MODELS: dict[str, ModelArch] = {
    "llama-2-7b": ModelArch(6.74e9, 6.74e9, 32, 32, 128, 64,
                            "Touvron et al. 2023, Llama 2; config.json of meta-llama/Llama-2-7b"),
    "llama-3.1-8b": ModelArch(8.03e9, 8.03e9, 32, 8, 128, 64,
                              "Llama 3.1 model card; config.json of meta-llama/Llama-3.1-8B"),
    "llama-2-13b": ModelArch(13.0e9, 13.0e9, 40, 40, 128, 64,
                             "Touvron et al. 2023, Llama 2; config.json of meta-llama/Llama-2-13b"),
    "llama-3.1-70b": ModelArch(70.6e9, 70.6e9, 80, 8, 128, 128,
                               "Llama 3.1 model card; config.json of meta-llama/Llama-3.1-70B"),
    "falcon-180b": ModelArch(179.5e9, 179.5e9, 80, 8, 64, 128,
                             "Almazrouei et al. 2023, The Falcon Series; config.json of "
                             "tiiuae/falcon-180B (hidden 14848, 232 heads, 8 KV heads)"),
    "bloom-176b": ModelArch(176.2e9, 176.2e9, 70, 112, 128, 128,
                            "BigScience 2022, BLOOM; config.json of bigscience/bloom "
                            "(multi-head attention, 112 heads)"),
    "mixtral-8x7b": ModelArch(46.7e9, 12.9e9, 32, 8, 128, 64,
                              "Jiang et al. 2024, Mixtral of Experts: 46.7e9 total, 12.9e9 active; "
                              "experts 8 x 32 layers x 3 x 4096 x 14336 = 45.1e9",
                              expert_params=45.1e9, experts=8, experts_per_token=2),
}


def model_arch(name: str) -> ModelArch:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"model = {name!r}: known models are {sorted(MODELS)}") from None


def prefill_j_per_token(active_params: float, gpu: GPUType, mfu: float = PREFILL_MFU) -> float:
    """Compute-derived GPU energy per prompt token [J]: ``2 N / (peak * MFU) * TDP``."""
    return 2.0 * active_params / (gpu.peak_bf16_flops * mfu) * gpu.tdp_w


def training_j_per_token(active_params: float, gpu: GPUType, mfu: float) -> float:
    """GPU energy per training token [J]: ``6 N / (peak * MFU) * TDP``.

    Parameters
    ----------
    active_params : float
        Parameters used per token [-].
    gpu : GPUType
    mfu : float
        Model-FLOP utilisation of the run, in (0, 1] [fraction].
    """
    if not 0.0 < mfu <= 1.0:
        raise ValueError(f"mfu = {mfu}: must lie in (0, 1]")
    return 6.0 * active_params / (gpu.peak_bf16_flops * mfu) * gpu.tdp_w


def training_tokens_per_gpu_second(active_params: float, gpu: GPUType, mfu: float) -> float:
    """Training throughput of one GPU [tokens/s]: ``peak * MFU / (6 N)``."""
    return gpu.peak_bf16_flops * mfu / (6.0 * active_params)


def tensor_parallel_degree(arch: ModelArch, gpu: GPUType) -> int:
    """Smallest power of two of GPUs whose memory holds the BF16 weights within
    ``WEIGHT_MEMORY_SHARE`` (the rest is KV cache and activations)."""
    for tp in (1, 2, 4, 8, 16):
        if 2.0 * arch.total_params <= WEIGHT_MEMORY_SHARE * tp * gpu.memory_bytes:
            return tp
    raise ValueError(f"model with {arch.total_params:.3g} parameters does not fit 16 GPUs of "
                     f"{gpu.memory_bytes / 1e9:g} GB")


def max_batch(arch: ModelArch, gpu: GPUType, tp: int, context_tokens: float) -> int:
    """Largest batch whose KV cache fits beside the weights in the replica's usable memory."""
    free = USABLE_MEMORY_SHARE * tp * gpu.memory_bytes - 2.0 * arch.total_params
    return max(int(free // (context_tokens * arch.kv_bytes_per_token)), 1)


def decode_step_s(arch: ModelArch, gpu: GPUType, tp: int, batch: int,
                  context_tokens: float = MEAN_CONTEXT_TOKENS) -> float:
    """Duration of one decode step of a replica (module docstring) [s]."""
    t_mem = ((arch.weight_bytes_read(batch) + batch * context_tokens * arch.kv_bytes_per_token)
             / (tp * gpu.hbm_bytes_per_s * ETA_HBM))
    t_flop = 2.0 * arch.active_params * batch / (tp * gpu.peak_bf16_flops * PREFILL_MFU)
    return max(t_mem, t_flop) + (arch.layers * TP_SYNC_S_PER_LAYER if tp > 1 else 0.0)


def decode_j_per_token(arch: ModelArch, gpu: GPUType, tp: int, batch: int,
                       context_tokens: float = MEAN_CONTEXT_TOKENS) -> float:
    """GPU energy per generated token, over the replica's GPUs [J]."""
    return decode_step_s(arch, gpu, tp, batch, context_tokens) * tp * gpu.serving_w / batch


@dataclass(frozen=True)
class TokenEnergy:
    """GPU energy per token of one model served on one GPU type.

    Attributes
    ----------
    model, gpu : str
    method : str
        ``roofline`` (this module's model) or ``ecologits``.
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
    method: str = "roofline"


def roofline_token_energy(model: str, gpu_name: str) -> TokenEnergy:
    """The catalogue entry of ``model`` on ``gpu_name`` from the roofline model."""
    arch, gpu = model_arch(model), gpu_type(gpu_name)
    tp = tensor_parallel_degree(arch, gpu)
    batch = min(arch.serving_batch, max_batch(arch, gpu, tp, MEAN_CONTEXT_TOKENS))
    return TokenEnergy(
        model=model, gpu=gpu_name, gpus_per_replica=tp, batch_size=batch,
        input_j_per_token=prefill_j_per_token(arch.active_params, gpu),
        output_j_per_token=decode_j_per_token(arch, gpu, tp, batch),
        source=f"roofline decode and compute-bound prefill (models.tokens) on {tp}x {gpu_name}, "
               f"batch {batch}, context {MEAN_CONTEXT_TOKENS}; architecture: {arch.source}; "
               f"GPU: {gpu.source}",
    )


#: EcoLogits constants (genai-impact/ecologits, ecologits/impacts/llm.py).
ECOLOGITS_ALPHA_KWH_PER_TOKEN_PER_B = 8.91e-8
ECOLOGITS_BETA_KWH_PER_TOKEN = 1.43e-6
ECOLOGITS_QUANTIZATION_BITS = 4
ECOLOGITS_GPU_MEMORY_GB = 80.0


def ecologits_token_energy(model: str, gpu_name: str) -> TokenEnergy:
    """The EcoLogits estimate of ``model``: per output token, GPUs required times
    ``alpha * P_active_B + beta`` [kWh], and no prefill energy (module docstring)."""
    arch = model_arch(model)
    gpu_type(gpu_name)  # EcoLogits ignores the GPU type, but the name must exist
    gpus = math.ceil(1.2 * arch.total_params / 1e9 * ECOLOGITS_QUANTIZATION_BITS / 8
                     / ECOLOGITS_GPU_MEMORY_GB)
    per_gpu_kwh = (ECOLOGITS_ALPHA_KWH_PER_TOKEN_PER_B * arch.active_params / 1e9
                   + ECOLOGITS_BETA_KWH_PER_TOKEN)
    return TokenEnergy(
        model=model, gpu=gpu_name, gpus_per_replica=gpus, batch_size=1,
        input_j_per_token=0.0, output_j_per_token=gpus * per_gpu_kwh * J_PER_KWH,
        source="EcoLogits linear fit on ML.ENERGY v1 (genai-impact/ecologits, "
               "ecologits/impacts/llm.py): alpha 8.91e-8, beta 1.43e-6 kWh per token per GPU",
        method="ecologits",
    )


ESTIMATORS = {"roofline": roofline_token_energy, "ecologits": ecologits_token_energy}

#: Every model on every GPU type, by the default estimator.
MODEL_CATALOGUE: dict[tuple[str, str], TokenEnergy] = {
    (m, g): roofline_token_energy(m, g) for m in MODELS for g in GPU_TYPES
}


def token_energy(model: str, gpu: str, method: str = "roofline") -> TokenEnergy:
    """Energy per token of ``model`` on ``gpu`` by ``method``; errors name the field."""
    if method not in ESTIMATORS:
        raise ValueError(f"energy_method = {method!r}: known methods are {sorted(ESTIMATORS)}")
    if method == "roofline" and (model, gpu) in MODEL_CATALOGUE:
        return MODEL_CATALOGUE[(model, gpu)]
    return ESTIMATORS[method](model, gpu)


def gpu_energy_j(tokens_in, tokens_out, te: TokenEnergy):
    """GPU energy of serving ``tokens_in`` prompt and ``tokens_out`` generated tokens [J]."""
    return tokens_in * te.input_j_per_token + tokens_out * te.output_j_per_token
