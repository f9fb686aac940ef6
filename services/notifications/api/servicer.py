"""NotificationsService over gRPC (skeleton)."""

from __future__ import annotations

import asyncio

import grpc
from sqlalchemy.engine import Engine

from antt.grpcx.errors import map_domain_errors
from antt.notifications.v1 import notifications_service_pb2 as pb
from antt.notifications.v1 import notifications_service_pb2_grpc as pb_grpc
from services.notifications import projections


class NotificationsServicer(pb_grpc.NotificationsServiceServicer):
    """Queries over the notifications service's state."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _count(self) -> int:
        with self.engine.connect() as conn:
            return projections.recipient_count(conn)

    @map_domain_errors
    async def GetRecipientCount(self, request: pb.GetRecipientCountRequest, context: grpc.aio.ServicerContext
                                ) -> pb.GetRecipientCountResponse:
        return pb.GetRecipientCountResponse(units=await asyncio.to_thread(self._count))
