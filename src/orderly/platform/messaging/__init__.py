"""The message bus port and its adapters (in-process, RabbitMQ)."""
