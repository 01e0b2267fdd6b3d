"""Delivery workers: one SQS queue per channel, one sender per channel, one receive loop.

``receiver`` is the loop every channel shares (long polling, batches, backoff kept by SQS,
dead-letter after a bounded number of receives, dedupe); ``email``, ``sms`` and ``push`` each
send one notification. Run them with ``python -m streams.delivery``.
"""
