"""The kernel report notebooks run in: always the Python running the report.

Notebooks name the ``unifiedmcp`` kernel (registered in the venv by ``make venv`` for JupyterLab).
The runner does not depend on that registration: the kernel manager below resolves that name to
the current interpreter (as ``nbval --nbval-current-env`` does), so a scheduled run on a clean
machine uses exactly the environment that has the package installed.
"""

from __future__ import annotations

import subprocess
from typing import Any

import ipykernel.kernelspec
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

__all__ = ["KERNEL_NAME", "CurrentEnvKernelManager"]

KERNEL_NAME = "unifiedmcp"


class _CurrentEnvSpecs(KernelSpecManager):
    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name in (KERNEL_NAME, "python3"):
            spec = ipykernel.kernelspec.get_kernel_dict()
            spec["display_name"] = "UnifiedMCP (current environment)"
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES, **spec)
        return super().get_kernel_spec(kernel_name)


class CurrentEnvKernelManager(AsyncKernelManager):
    """An async kernel manager whose ``unifiedmcp`` (and ``python3``) kernel is this interpreter."""

    @default("kernel_spec_manager")
    def _default_kernel_spec_manager(self) -> KernelSpecManager:
        return _CurrentEnvSpecs(data_dir=self.data_dir)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        # The kernel's own stderr carries only start-up chatter (tracebacks reach the notebook).
        kw.setdefault("stderr", subprocess.DEVNULL)
        await super()._async_launch_kernel(kernel_cmd, **kw)
