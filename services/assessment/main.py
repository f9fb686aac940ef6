"""Composition root of assessment: build(settings) -> Service. Nothing runs at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from antt.assessment.v1 import assessment_service_pb2_grpc as pb_grpc
from antt.eventstore.persistence import create_engine
from antt.grpcx.server import ServicerBinding
from antt.runtime.service import Service, ServiceParts
from antt.settings import ServiceSettings, env_value
from services.assessment.api.servicer import AssessmentServicer
from services.assessment.application import Assessments
from services.assessment.consumers import FROM_REGISTRY
from services.assessment.published import AssessmentPublisher
from services.assessment.rules import RuleCatalogue, load_catalogue
from services.assessment.unit_directory import ReplicaUnitDirectory

RULES_VAR = "ANTT_ASSESSMENT_RULES_DIR"
THREADS_VAR = "ANTT_ASSESSMENT_COMMAND_THREADS"


def rule_catalogue(env: Mapping[str, str] | None = None) -> RuleCatalogue:
    """The packaged rule sets, or those of the folder named by ANTT_ASSESSMENT_RULES_DIR."""
    folder = env_value(os.environ if env is None else env, RULES_VAR).strip()
    return load_catalogue(Path(folder) if folder else None)


def build(settings: ServiceSettings) -> Service:
    """Assessment: gRPC API, event store, outbox relay and the registry replica consumer."""
    engine = create_engine(settings.database_url)
    units = ReplicaUnitDirectory(engine)
    app = Assessments(settings.database_url, rules=rule_catalogue(), units=units)
    threads = int(env_value(os.environ, THREADS_VAR))
    binding = ServicerBinding(AssessmentServicer(app, engine, command_threads=threads), pb_grpc.add_AssessmentServiceServicer_to_server,
                              "antt.assessment.v1.AssessmentService")
    parts = ServiceParts(bindings=[binding], app=app, to_message=AssessmentPublisher(app).to_message,
                         consumers=[FROM_REGISTRY])
    return Service(settings, parts, engine)
