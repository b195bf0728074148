"""HTTP API serving the cabinet's ISU screens (DESIGN §5).

``create_app(config)`` builds the FastAPI application, ``serve(config)`` runs it under
uvicorn, and ``load_api_config(path)`` reads its TOML configuration.
"""

from api.app import create_app
from api.cli import serve
from api.config import ApiConfig, load_api_config

__all__ = ["ApiConfig", "create_app", "load_api_config", "serve"]
