"""Lambda's SQS event source mapping, played locally: one poller per mapping.

It keeps the mapping's batch size, batching window and maximum concurrency, builds events
in Lambda's exact shape, and honours the answer: the messages a partial batch response
names stay (they come back when their visibility runs out), the rest are deleted; an
invocation that fails or times out leaves the whole batch, as Lambda does.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqs_tasks.lambda_events import sqs_event
from stack.local import logs
from stack.local.runtime import FunctionRuntime
from stack.local.topology import QueueMapping

POLL_WAIT_SECONDS = 1  # long poll while idle, short enough to stop promptly


class Poller:
    def __init__(self, mapping: QueueMapping, runtime: FunctionRuntime, sqs: Any, region: str):
        self.mapping = mapping
        self.runtime = runtime
        self.sqs = sqs
        self.region = region
        self.source = f"poller:{mapping.queue_arn.rsplit(':', 1)[-1]}"
        self._stop = threading.Event()
        self._slots = threading.Semaphore(mapping.max_concurrency)
        self._pool = ThreadPoolExecutor(mapping.max_concurrency, thread_name_prefix=self.source)
        self._thread = threading.Thread(target=self._run, name=self.source, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue  # MaximumConcurrency batches already in flight
            try:
                batch = self._gather()
            except Exception as error:  # the emulator is stopping, or a glitch: try again
                logs.emit(self.source, f"receive failed: {error}")
                batch = []
                time.sleep(0.5)
            if batch:
                self._pool.submit(self._deliver, batch)
            else:
                self._slots.release()

    def _gather(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages; once the first arrives, wait up to the batching
        window for the batch to fill."""
        batch = self._receive(self.mapping.batch_size, wait=POLL_WAIT_SECONDS)
        if not batch:
            return []
        window_ends = time.monotonic() + self.mapping.batching_window
        while len(batch) < self.mapping.batch_size and time.monotonic() < window_ends:
            more = self._receive(self.mapping.batch_size - len(batch), wait=0)
            batch += more
            if not more:
                time.sleep(min(0.1, max(0.0, window_ends - time.monotonic())))
        return batch

    def _receive(self, count: int, *, wait: int) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=min(10, count),
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        try:
            event = sqs_event(batch, self.mapping.queue_arn, self.region)
            try:
                response = self.runtime.invoke(event)
            except Exception as error:
                logs.emit(
                    self.source, f"invocation failed, {len(batch)} message(s) return: {error}"
                )
                return
            self._delete(batch, self._failed_ids(batch, response))
        finally:
            self._slots.release()

    def _failed_ids(self, batch: list[dict[str, Any]], response: Any) -> set[str]:
        """Lambda's reading of the answer: a malformed one fails the whole batch."""
        every = {message["MessageId"] for message in batch}
        if not self.mapping.reports_item_failures:
            return set()
        if response is None:
            return set()
        try:
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures") or []}
        except (AttributeError, KeyError, TypeError):
            return every
        return every if (failed - every or "" in failed) else failed

    def _delete(self, batch: list[dict[str, Any]], failed: set[str]) -> None:
        done = [m for m in batch if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
