"""Machine and software facts that asv does not record, for the reports to print beside numbers.

CPU model and cores, numpy's BLAS and thread counts, torch's version and build, whether TF32 is
allowed for float32 matrix products (ffbench keeps it off: ``torch.set_float32_matmul_precision
("highest")``), and for CUDA the GPU's name, memory, driver, CUDA runtime and, where nvidia-ml-py
can read them, clocks and power limit. Every probe is optional: a fact that cannot be read is
left out, never an error, and nothing here creates a CUDA context unless ``cuda=True``.
"""

from __future__ import annotations

import importlib.util
import platform
from pathlib import Path

from impls.threads import physical_cores, thread_info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_facts() -> dict[str, object]:
    import numpy

    info = thread_info()
    blas = "; ".join(f"{lib} ({layer})" for lib, layer, _ in info.blas) or "unknown"
    return {
        "cpu_model": _cpu_model(),
        "physical_cores": physical_cores(),
        "numpy_version": numpy.__version__,
        "blas": blas,
        "blas_threads": info.blas_threads,
        "torch_threads": info.torch,
        "python": platform.python_version(),
    }


def torch_facts() -> dict[str, object]:
    if importlib.util.find_spec("torch") is None:
        return {"torch_version": None}
    import torch

    return {
        "torch_version": torch.__version__,
        "torch_cuda_build": torch.version.cuda,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
    }


def _nvml_facts(index: int) -> dict[str, object]:
    try:
        import pynvml
    except ImportError:
        return {}
    facts: dict[str, object] = {}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:  # no driver library, no permission: the facts are simply unknown
        return {}
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        probes = {
            "gpu_driver": lambda: pynvml.nvmlSystemGetDriverVersion(),
            "gpu_sm_clock_max_mhz": lambda: pynvml.nvmlDeviceGetMaxClockInfo(
                handle, pynvml.NVML_CLOCK_SM
            ),
            "gpu_mem_clock_max_mhz": lambda: pynvml.nvmlDeviceGetMaxClockInfo(
                handle, pynvml.NVML_CLOCK_MEM
            ),
            "gpu_power_limit_w": lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000,
        }
        for key, probe in probes.items():
            try:
                value = probe()
                facts[key] = value.decode() if isinstance(value, bytes) else value
            except pynvml.NVMLError:  # one unreadable counter must not hide the others
                facts[key] = None
    finally:
        pynvml.nvmlShutdown()
    return facts


def cuda_facts(index: int = 0) -> dict[str, object]:
    """GPU facts; creates a CUDA context, so call it only where CUDA is about to be used."""
    from impls.registry import cuda_available

    if not cuda_available():
        return {"gpu_name": None}
    import torch

    props = torch.cuda.get_device_properties(index)
    facts: dict[str, object] = {
        "gpu_name": props.name,
        "gpu_memory_gib": round(props.total_memory / 2**30, 1),
        "gpu_multiprocessors": props.multi_processor_count,
        "gpu_capability": f"{props.major}.{props.minor}",
        "cuda_runtime": torch.version.cuda,
    }
    facts.update(_nvml_facts(index))
    return facts


def machine_facts(cuda: bool = False) -> dict[str, object]:
    """Everything above in one flat dict of JSON-friendly values."""
    facts = {**cpu_facts(), **torch_facts()}
    if cuda:
        facts.update(cuda_facts())
    return facts
