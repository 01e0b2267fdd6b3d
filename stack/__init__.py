"""The local stack: real Kafka, PostgreSQL, RabbitMQ and AWS APIs (moto) on loopback.

Each part installs itself (idempotent, cached), starts as a project-owned instance with its
data under ``Settings.state_dir``, proves it is ready with a real round trip, and stops by
pid file. See ``stack.parts`` for the parts and ``stack.control`` for up/down/status.
"""
