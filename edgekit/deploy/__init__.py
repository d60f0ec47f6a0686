"""`edgekit deploy`: the whole pipeline in one call (pipeline.py).

    from edgekit.deploy import deploy
    result = deploy("gesture", board, Path("out/gesture"), step=step)
"""

from edgekit.deploy.pipeline import DeployResult, deploy

__all__ = ["DeployResult", "deploy"]
